import type { QueryResultRow } from 'pg';
import type pg from 'pg';
import type { Plan } from '../plan/plan.ts';
import { BIN_RATIO, type BucketHistograms } from '../core/latency-histogram.ts';
import { withStatementTimeout } from './database.ts';
import { routeBucketsSql } from './metric-sums.ts';
import { BUCKET, fetchCountRows, PART, where, type HistoryRows } from './history-queries.ts';

/*
 * What a chart reads: readHistory's sums per bucket plus each provider's latencies per bucket as
 * a log-spaced histogram (core/latency-histogram.ts), so every point's p95 is a real value. The
 * span's gen_route rows are read once, over the (event_type, created_at) index, for both (the
 * sums and the histograms came from two reads of the same rows, and the histograms' ~50 k rows
 * of (bucket, provider, bin, count) cost more to send and parse than to compute). The span is read
 * as two halves side by side on two connections (as the two reads were); each half then counts its
 * gen_ok and vouchers, other rows.
 */

/** The bin of a float8 latency, as core/latency-histogram.ts's binOf computes it. */
const bin = (lat: string) => `CASE WHEN ${lat} < 1 THEN 0 ELSE 1 + floor(ln(${lat}) / ln(${BIN_RATIO}))::int END`;

// $1 from, $2 to (included when `inclusive`), $3 origin, $4 step, $5 maxLatencyMs, $6 maxCostPerImage,
// $7 p95 threshold, $8 histograms from, $9 `from` provider, $10 `to` provider. Histograms end before $2.
const chartRouteSql = (inclusive: boolean) =>
  routeBucketsSql({
    bucket: BUCKET,
    part: PART,
    where: where(inclusive),
    latMax: '$5',
    costMax: '$6',
    threshold: '$7',
    bins: { where: `created_at >= $8 AND created_at < $2 AND event_data->>'provider' IN ($9, $10)`, bin },
  });
const CHART_ROUTE_SQL = { open: chartRouteSql(false), inclusive: chartRouteSql(true) };

const TIMEOUT_MS = 60_000;
/** Spans from this long are read as two halves side by side. */
const SPLIT_FROM_MS = 30 * 60_000;
/** array_agg makes the grouping a sort: 3 h of rows (~15 MB) sort in memory, not on disk at 4 MB. */
const WORK_MEM = '32MB';

export interface ChartRangeRows {
  history: HistoryRows;
  /** (i: bucket start, p: 0 `from` / 1 `to`, bin, n) for buckets from latencyFrom. */
  bins: QueryResultRow[];
}

/**
 * History rows for [a, b] (end instant included unless `inclusive` is false) and latency bins
 * for [max(a, latencyFrom), b), buckets aligned to originMs in steps of stepMs.
 */
export async function fetchChartRows(
  pool: pg.Pool,
  plan: Plan,
  originMs: number,
  stepMs: number,
  a: number,
  b: number,
  latencyFrom: number,
  inclusive = true,
): Promise<ChartRangeRows> {
  // Two halves side by side, split on a bucket's start (a bucket's rows stay in one half), each
  // on its own connection: every row is still read once, on both of the database's cores. A
  // report's few new minutes are not worth the second round trips.
  const mid = originMs + Math.floor(((a + b) / 2 - originMs) / stepMs) * stepMs;
  const halves: [number, number, boolean][] =
    b - a >= SPLIT_FROM_MS && mid > a
      ? [
          [a, mid, false],
          [mid, b, inclusive],
        ]
      : [[a, b, inclusive]];
  // One piece (a few minutes): its counts beside its rows, on a second connection. Two halves
  // already hold two; their counts follow each half.
  const beside = halves.length === 1;
  const read = await Promise.all(
    halves.map(([x, y, inclusive]) => readSpan(pool, plan, originMs, stepMs, x, y, inclusive, latencyFrom, beside)),
  );
  const route = { rows: read.flatMap((h) => h.route) };
  const counts = { genOk: read.flatMap((h) => h.counts.genOk), vouchers: read.flatMap((h) => h.counts.vouchers) };
  // Each (bucket, part, provider) row carries its rows' bins: counted per (bucket, provider, bin).
  const byBin = new Map<string, QueryResultRow>();
  const bins: QueryResultRow[] = [];
  for (const r of route.rows) {
    const p = r.provider === plan.from ? 0 : 1;
    for (const b of r.bins ?? []) {
      const key = `${r.bucket.getTime()} ${p} ${b}`;
      const c = byBin.get(key);
      if (c) c.n++;
      else {
        const row = { i: r.bucket, p, bin: b, n: 1 };
        byBin.set(key, row);
        bins.push(row);
      }
    }
    delete r.bins;
  }
  return { history: { route: route.rows, ...counts }, bins };
}

async function readSpan(
  pool: pg.Pool,
  plan: Plan,
  originMs: number,
  stepMs: number,
  a: number,
  b: number,
  inclusive: boolean,
  latencyFrom: number,
  countsBeside: boolean,
): Promise<{ route: QueryResultRow[]; counts: Omit<HistoryRows, 'route'> }> {
  const counts = () => fetchCountRows(pool, originMs, stepMs, a, b, inclusive);
  const early = countsBeside ? counts() : null;
  early?.catch(() => {}); // awaited below
  const route = await withStatementTimeout(pool, TIMEOUT_MS, async (c) => {
    await c.query('SET LOCAL jit = off');
    await c.query(`SET LOCAL work_mem = '${WORK_MEM}'`);
    const sql = inclusive ? CHART_ROUTE_SQL.inclusive : CHART_ROUTE_SQL.open;
    return c.query(sql, [
      new Date(a),
      new Date(b),
      new Date(originMs),
      `${stepMs} milliseconds`,
      plan.maxLatencyMs,
      plan.maxCostPerImage,
      plan.redLines.p95LatencyMs.threshold,
      new Date(latencyFrom),
      plan.from,
      plan.to,
    ]);
  });
  return { route: route.rows, counts: await (early ?? counts()) };
}

export function applyLatencyBinRows(
  startMs: number,
  stepMs: number,
  rows: QueryResultRow[],
  into: { from: BucketHistograms; to: BucketHistograms },
): void {
  for (const r of rows) {
    const i = Math.round((r.i.getTime() - startMs) / stepMs);
    const h = (r.p === 0 ? into.from : into.to)[i];
    if (h) h.set(r.bin, (h.get(r.bin) ?? 0) + r.n);
  }
}
