import type pg from 'pg';
import type { Plan } from '../plan/plan.ts';
import type { BucketSeries, ProviderSeries } from '../core/backtest.ts';
import { withStatementTimeout } from './database.ts';
import { numeric } from './metrics-queries.ts';

/*
 * History for the backtest, as sums per bucket of the plan's step: one grouped range read per
 * event type and chunk (the (event_type, created_at) index serves both), never a query per
 * evaluation. Values are validated exactly as the guard's queries do.
 */

// date_bin, not epoch arithmetic: extract(epoch) is numeric, and numeric math per row cost 4×
// more than reading the row (bench:backtest). The bucket's start comes back; JS makes it an index.
const BUCKET = `date_bin($4::interval, created_at, $3::timestamptz)`;

// $1 from, $2 to, $3 series start, $4 step (an interval), $5 maxLatencyMs, $6 maxCostPerImage,
// $7 p95 threshold, $8 `from` provider, $9 `to` provider.
const ROUTE_BUCKETS_SQL = `
SELECT i, p,
       count(*)::int AS requests,
       count(*) FILTER (WHERE failed)::int AS failures,
       count(lat)::int AS latency_samples,
       count(*) FILTER (WHERE lat >= $7)::int AS latency_at_or_above,
       max(lat) FILTER (WHERE lat < $7) AS latency_below_max,
       min(lat) FILTER (WHERE lat >= $7) AS latency_above_min,
       coalesce(sum(cost), 0)::float8 AS cost_sum,
       count(cost)::int AS cost_samples,
       (count(*) FILTER (WHERE has_cost) - count(cost))::int AS cost_skipped
FROM (
  SELECT i, p, failed, has_cost,
         CASE WHEN p < 2 THEN ${numeric('lat_j', '$5')} END AS lat,
         CASE WHEN p < 2 THEN ${numeric('cost_j', '$6')} END AS cost
  FROM (
    SELECT ${BUCKET} AS i,
           CASE event_data->>'provider' WHEN $8 THEN 0 WHEN $9 THEN 1 ELSE 2 END AS p,
           event_data->>'error' IS NOT NULL AS failed,
           event_data->'latency_ms' AS lat_j,
           event_data->'cost_per_image' AS cost_j,
           event_data->>'cost_per_image' IS NOT NULL AS has_cost
    FROM analytics_logs
    WHERE event_type = 'gen_route' AND created_at >= $1 AND created_at < $2
    OFFSET 0
  ) raw
  OFFSET 0
) route
GROUP BY i, p`;

// gen_ok needs nothing but its time: counted from the index alone (history's pages are
// all-visible once vacuumed), without touching a row. Vouchers are few and need their reason.
const GEN_OK_BUCKETS_SQL = `
SELECT ${BUCKET} AS i, count(*)::int AS n
FROM analytics_logs
WHERE event_type = 'gen_ok' AND created_at >= $1 AND created_at < $2
GROUP BY 1`;

const VOUCHER_BUCKETS_SQL = `
SELECT ${BUCKET} AS i, count(*)::int AS n
FROM analytics_logs
WHERE event_type = 'voucher_issued' AND created_at >= $1 AND created_at < $2 AND event_data->>'reason' = 'regenerate'
GROUP BY 1`;

/** A long range may take longer than the guard's 10 s statement cap, chunk by chunk. */
const CHUNK_TIMEOUT_MS = 120_000;
const CHUNK_MS = 6 * 3_600_000;

export interface HistoryProgress {
  (done: number, total: number): void;
}

/** Reads [startMs, startMs + length × stepMs) into buckets, in chunks, two at a time. */
export async function readHistory(pool: pg.Pool, plan: Plan, series: BucketSeries, onProgress?: HistoryProgress): Promise<{ rows: number }> {
  const end = series.startMs + series.length * series.stepMs;
  const chunks: [number, number][] = [];
  for (let a = series.startMs; a < end; a += CHUNK_MS) chunks.push([a, Math.min(end, a + CHUNK_MS)]);
  let done = 0;
  let rows = 0;
  const next = async (): Promise<void> => {
    const chunk = chunks.shift();
    if (!chunk) return;
    const read = await readChunk(pool, plan, series, chunk[0], chunk[1]);
    rows += read;
    onProgress?.(++done, done + chunks.length);
    return next();
  };
  await Promise.all([next(), next()]);
  return { rows };
}

async function readChunk(pool: pg.Pool, plan: Plan, series: BucketSeries, a: number, b: number): Promise<number> {
  const range = [new Date(a), new Date(b), new Date(series.startMs), `${series.stepMs} milliseconds`];
  const index = (bin: Date) => Math.round((bin.getTime() - series.startMs) / series.stepMs);
  const [route, genOk, vouchers] = await withStatementTimeout(pool, CHUNK_TIMEOUT_MS, async (c) => {
    // JIT compiles each plan anew for ~50 ms and gains nothing on a range scan of one chunk.
    await c.query('SET LOCAL jit = off');
    return [
      await c.query(ROUTE_BUCKETS_SQL, [...range, plan.maxLatencyMs, plan.maxCostPerImage, plan.redLines.p95LatencyMs.threshold, plan.from, plan.to]),
      await c.query(GEN_OK_BUCKETS_SQL, range),
      await c.query(VOUCHER_BUCKETS_SQL, range),
    ];
  });
  let rows = 0;
  for (const r of route.rows) {
    r.i = index(r.i);
    rows += r.requests;
    if (r.p === 2) {
      series.otherRequests[r.i] += r.requests;
      continue;
    }
    const s: ProviderSeries = r.p === 0 ? series.from : series.to;
    s.requests[r.i] += r.requests;
    s.failures[r.i] += r.failures;
    s.latencySamples[r.i] += r.latency_samples;
    s.latencyAtOrAbove[r.i] += r.latency_at_or_above;
    // A bucket can arrive in one chunk only, but keep max/min honest if it ever came twice.
    if (r.latency_below_max !== null) s.latencyBelowMax[r.i] = Math.max(r.latency_below_max, Number.isNaN(s.latencyBelowMax[r.i]) ? -Infinity : s.latencyBelowMax[r.i]);
    if (r.latency_above_min !== null) s.latencyAboveMin[r.i] = Math.min(r.latency_above_min, Number.isNaN(s.latencyAboveMin[r.i]) ? Infinity : s.latencyAboveMin[r.i]);
    s.costSum[r.i] += r.cost_sum;
    s.costSamples[r.i] += r.cost_samples;
    s.costSkipped[r.i] += r.cost_skipped;
  }
  for (const r of genOk.rows) {
    rows += r.n;
    series.genOk[index(r.i)] += r.n;
  }
  for (const r of vouchers.rows) {
    rows += r.n;
    series.vouchers[index(r.i)] += r.n;
  }
  return rows;
}
