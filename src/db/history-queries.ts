import type { QueryResultRow } from 'pg';
import type pg from 'pg';
import type { Plan } from '../plan/plan.ts';
import { emptyEdge, type BucketSeries, type ProviderSeries } from '../core/backtest.ts';
import { addExact, addRouteSums, maxNum, minNum, type RouteSums } from '../core/sums.ts';
import { withStatementTimeout } from './database.ts';
import { parseRouteSums, routeBucketsSql, voucherBucketsSql } from './metric-sums.ts';

/*
 * History for the backtest, as sums per bucket of the plan's step, with the guard's own
 * definitions (metric-sums.ts): one grouped range read per event type and chunk (the
 * (event_type, created_at) index serves each), never a query per evaluation. Rows exactly on a
 * bucket's first instant come back as their own part, so a window [t − w, t] keeps both its ends.
 */

// date_bin, not epoch arithmetic: extract(epoch) is numeric, and numeric math per row cost 4×
// more than reading the row (bench:backtest). The bucket's start comes back; JS makes it an index.
export const BUCKET = `date_bin($4::interval, created_at, $3::timestamptz)`;
export const PART = `CASE WHEN created_at = ${BUCKET} THEN 1 END::int8`;
// $1 from, $2 to (included for the last chunk only), $3 series start, $4 step (an interval).
export const where = (inclusive: boolean) => `created_at >= $1 AND created_at ${inclusive ? '<=' : '<'} $2`;

// $5 maxLatencyMs, $6 maxCostPerImage, $7 p95 threshold.
const routeSql = (inclusive: boolean) =>
  routeBucketsSql({ bucket: BUCKET, part: PART, where: where(inclusive), latMax: '$5', costMax: '$6', threshold: '$7' });
// gen_ok needs nothing but its time: counted from the index alone (history's pages are
// all-visible once vacuumed), without touching a row. Vouchers are few and need their reason.
const genOkSql = (inclusive: boolean) => voucherBucketsSql({ bucket: BUCKET, part: PART, where: where(inclusive), types: ['gen_ok'] });
const voucherSql = (inclusive: boolean) =>
  voucherBucketsSql({ bucket: BUCKET, part: PART, where: where(inclusive), types: ['voucher_issued'] });

/** A long range may take longer than the guard's 10 s statement cap, chunk by chunk. */
const CHUNK_TIMEOUT_MS = 120_000;
const CHUNK_MS = 6 * 3_600_000;

export type HistoryProgress = (done: number, total: number) => void;

/** Reads [startMs, startMs + length × stepMs] into buckets, in chunks, two at a time. */
export async function readHistory(
  pool: pg.Pool,
  plan: Plan,
  series: BucketSeries,
  onProgress?: HistoryProgress,
): Promise<{ rows: number }> {
  const end = series.startMs + series.length * series.stepMs;
  const chunks: [number, number][] = [];
  for (let a = series.startMs; a < end; a += CHUNK_MS) chunks.push([a, Math.min(end, a + CHUNK_MS)]);
  let done = 0;
  let rows = 0;
  const next = async (): Promise<void> => {
    const chunk = chunks.shift();
    if (!chunk) return;
    // The last chunk includes the end instant: the last window's inclusive end.
    const read = await readChunk(pool, plan, series, chunk[0], chunk[1], chunk[1] === end);
    rows += read;
    onProgress?.(++done, done + chunks.length);
    return next();
  };
  await Promise.all([next(), next()]);
  return { rows };
}

async function readChunk(pool: pg.Pool, plan: Plan, series: BucketSeries, a: number, b: number, inclusive: boolean): Promise<number> {
  return applyHistoryRows(plan, series, await fetchHistoryRows(pool, plan, series.startMs, series.stepMs, a, b, inclusive));
}

/** One chunk's grouped rows, buckets aligned to `originMs` in steps of `stepMs` (the chart cache keeps them per bucket). */
export interface HistoryRows {
  route: QueryResultRow[];
  genOk: QueryResultRow[];
  vouchers: QueryResultRow[];
}

export async function fetchHistoryRows(
  pool: pg.Pool,
  plan: Plan,
  originMs: number,
  stepMs: number,
  a: number,
  b: number,
  inclusive: boolean,
): Promise<HistoryRows> {
  const range = [new Date(a), new Date(b), new Date(originMs), `${stepMs} milliseconds`];
  const [route, counts] = await withStatementTimeout(pool, CHUNK_TIMEOUT_MS, async (c) => {
    // JIT compiles each plan anew for ~50 ms and gains nothing on a range scan of one chunk.
    await c.query('SET LOCAL jit = off');
    const route = await c.query(routeSql(inclusive), [
      ...range,
      plan.maxLatencyMs,
      plan.maxCostPerImage,
      plan.redLines.p95LatencyMs.threshold,
    ]);
    return [route, await queryCountRows(c, range, inclusive)] as const;
  });
  return { route: route.rows, ...counts };
}

/** gen_ok and regenerate vouchers per bucket and part over [a, b) or [a, b], the history's other two reads. */
export async function fetchCountRows(
  pool: pg.Pool,
  originMs: number,
  stepMs: number,
  a: number,
  b: number,
  inclusive: boolean,
): Promise<Omit<HistoryRows, 'route'>> {
  const range = [new Date(a), new Date(b), new Date(originMs), `${stepMs} milliseconds`];
  return withStatementTimeout(pool, CHUNK_TIMEOUT_MS, async (c) => {
    await c.query('SET LOCAL jit = off');
    return queryCountRows(c, range, inclusive);
  });
}

async function queryCountRows(c: pg.PoolClient, range: unknown[], inclusive: boolean): Promise<Omit<HistoryRows, 'route'>> {
  const genOk = await c.query(genOkSql(inclusive), range);
  const vouchers = await c.query(voucherSql(inclusive), range);
  return { genOk: genOk.rows, vouchers: vouchers.rows };
}

/** Adds a chunk's rows to the series' buckets (and edges); returns the rows they stand for. */
export function applyHistoryRows(plan: Plan, series: BucketSeries, rows: HistoryRows): number {
  const { route, genOk, vouchers } = { route: { rows: rows.route }, genOk: { rows: rows.genOk }, vouchers: { rows: rows.vouchers } };
  const index = (bin: Date) => Math.round((bin.getTime() - series.startMs) / series.stepMs);
  const edgeAt = (i: number) => {
    let e = series.atStart.get(i);
    if (!e) series.atStart.set(i, (e = emptyEdge()));
    return e;
  };
  let count = 0;
  for (const r of route.rows) {
    const i = index(r.bucket);
    if (i < 0) continue;
    count += r.requests;
    const sums = parseRouteSums(r);
    const which = r.provider === plan.from ? 'from' : r.provider === plan.to ? 'to' : null;
    // Rows exactly at a bucket's start count in the bucket and, apart, as that instant's edge.
    if (r.part !== null) {
      const e = edgeAt(i);
      if (which) e[which] = addRouteSums(e[which], sums);
      else e.otherRequests += sums.requests;
    }
    if (i >= series.length) continue; // the end instant: an edge only
    if (!which) {
      series.otherRequests[i] += sums.requests;
      continue;
    }
    addBucket(series[which], i, sums);
  }
  for (const r of genOk.rows) {
    const i = index(r.bucket);
    if (i < 0) continue;
    count += r.gen_ok;
    if (r.part !== null) edgeAt(i).genOk += r.gen_ok;
    if (i < series.length) series.genOk[i] += r.gen_ok;
  }
  for (const r of vouchers.rows) {
    const i = index(r.bucket);
    if (i < 0) continue;
    count += r.vouchers;
    if (r.part !== null) edgeAt(i).vouchers += r.vouchers;
    if (i < series.length) series.vouchers[i] += r.vouchers;
  }
  return count;
}

function addBucket(s: ProviderSeries, i: number, x: RouteSums): void {
  s.requests[i] += x.requests;
  s.failures[i] += x.failures;
  s.latencySamples[i] += x.latencySamples;
  s.latencyAtOrAbove[i] += x.atOrAbove;
  // A bucket comes in parts (rows at its start apart) and could span chunks: keep max/min honest.
  s.latencyBelowMax[i] = maxNum(s.latencyBelowMax[i], x.belowMax);
  s.latencyAboveMin[i] = minNum(s.latencyAboveMin[i], x.aboveMin);
  s.costSum[i] = addExact(s.costSum[i], x.costSum);
  s.costSamples[i] += x.costSamples;
  s.costSkipped[i] += x.costSkipped;
}
