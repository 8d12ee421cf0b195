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

const BUCKET = `floor((extract(epoch FROM created_at) * 1000 - $3::float8) / $4::float8)::int`;

// $1 from, $2 to, $3 series start (ms), $4 step (ms), $5 maxLatencyMs, $6 maxCostPerImage,
// $7 p95 threshold, $8 `from` provider, $9 `to` provider.
const ROUTE_BUCKETS_SQL = `
SELECT i, p,
       count(*)::int AS requests,
       count(*) FILTER (WHERE failed)::int AS failures,
       count(lat)::int AS latency_samples,
       count(*) FILTER (WHERE lat >= $7)::int AS latency_at_or_above,
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

const VOUCHER_BUCKETS_SQL = `
SELECT ${BUCKET} AS i,
       count(*) FILTER (WHERE event_type = 'voucher_issued' AND event_data->>'reason' = 'regenerate')::int AS vouchers,
       count(*) FILTER (WHERE event_type = 'gen_ok')::int AS gen_ok
FROM analytics_logs
WHERE event_type IN ('voucher_issued', 'gen_ok') AND created_at >= $1 AND created_at < $2
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
    rows += await readChunk(pool, plan, series, chunk[0], chunk[1]);
    onProgress?.(++done, done + chunks.length);
    return next();
  };
  await Promise.all([next(), next()]);
  return { rows };
}

async function readChunk(pool: pg.Pool, plan: Plan, series: BucketSeries, a: number, b: number): Promise<number> {
  const range = [new Date(a), new Date(b), series.startMs, series.stepMs];
  const [route, vouchers] = await withStatementTimeout(pool, CHUNK_TIMEOUT_MS, async (c) => [
    await c.query(ROUTE_BUCKETS_SQL, [...range, plan.maxLatencyMs, plan.maxCostPerImage, plan.redLines.p95LatencyMs.threshold, plan.from, plan.to]),
    await c.query(VOUCHER_BUCKETS_SQL, range),
  ]);
  let rows = 0;
  for (const r of route.rows) {
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
    s.costSum[r.i] += r.cost_sum;
    s.costSamples[r.i] += r.cost_samples;
    s.costSkipped[r.i] += r.cost_skipped;
  }
  for (const r of vouchers.rows) {
    rows += r.vouchers + r.gen_ok;
    series.vouchers[r.i] += r.vouchers;
    series.genOk[r.i] += r.gen_ok;
  }
  return rows;
}
