import type { QueryResultRow } from 'pg';
import type pg from 'pg';
import type { Plan } from '../plan/plan.ts';
import { BIN_RATIO, type BucketHistograms } from '../core/latency-histogram.ts';
import { withStatementTimeout } from './database.ts';
import { numeric } from './metric-sums.ts';

/*
 * What charts need beyond readHistory's sums: each provider's latencies per bucket as a
 * log-spaced histogram (core/latency-histogram.ts), so every point's p95 is a real value.
 * One grouped range read over the (event_type, created_at) index; rows returned grow with
 * buckets × occupied bins, not with the rows read.
 */

// $1 from, $2 to, $3 series start, $4 step, $5 maxLatencyMs, $6 `from` provider, $7 `to` provider.
const LATENCY_BINS_SQL = `
SELECT i, p, CASE WHEN lat < 1 THEN 0 ELSE 1 + floor(ln(lat) / ln(${BIN_RATIO}))::int END AS bin, count(*)::int AS n
FROM (
  SELECT date_bin($4::interval, created_at, $3::timestamptz) AS i,
         CASE event_data->>'provider' WHEN $6 THEN 0 ELSE 1 END AS p,
         (${numeric("(event_data->'latency_ms')", '$5')})::float8 AS lat
  FROM analytics_logs
  WHERE event_type = 'gen_route' AND created_at >= $1 AND created_at < $2 AND event_data->>'provider' IN ($6, $7)
  OFFSET 0
) r
WHERE lat IS NOT NULL
GROUP BY 1, 2, 3`;

const TIMEOUT_MS = 60_000;

/** The grouped (bucket, provider, bin, count) rows over [a, b), buckets aligned to originMs. */
export async function fetchLatencyBinRows(
  pool: pg.Pool,
  plan: Plan,
  originMs: number,
  stepMs: number,
  a: number,
  b: number,
): Promise<QueryResultRow[]> {
  const { rows } = await withStatementTimeout(pool, TIMEOUT_MS, async (c) => {
    await c.query('SET LOCAL jit = off');
    return c.query(LATENCY_BINS_SQL, [
      new Date(a),
      new Date(b),
      new Date(originMs),
      `${stepMs} milliseconds`,
      plan.maxLatencyMs,
      plan.from,
      plan.to,
    ]);
  });
  return rows;
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
