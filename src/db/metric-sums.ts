import type { QueryResultRow } from 'pg';
import type pg from 'pg';
import type { MetricsSnapshot, ProviderStats } from '../core/metrics.ts';
import { divideLikePostgres, parseDecimal } from '../core/decimal.ts';
import type { RouteSums } from '../core/sums.ts';
import { percentileCont } from '../core/compare/quantile.ts';

/*
 * The one definition of every metric of the runbook: what a row contributes (SQL, below), the
 * additive sums a bucket of rows is read as, and how a window's numbers come out of those sums.
 * Every reader uses it: the guard's per-minute cache (rolling-windows.ts), status and reports
 * (through the same cache), the one-shot reference reads (metrics-queries.ts), the backtest's
 * history (history-queries.ts, buckets of the plan's step) and the statistics judge.
 *
 * Window edges, everywhere: [end − window, end], both ends included, as the runbook's
 * `created_at >= NOW() − INTERVAL …` with NOW() as the end. Buckets are [start, start + step);
 * a window is whole buckets plus exact edge pieces (the live cache reads the pieces; the backtest,
 * whose ends are bucket boundaries, keeps the rows sitting exactly on a bucket's start apart, so
 * the inclusive end is one more piece: `part`).
 *
 * Number types: counts are integers; cost sums are exact decimals (numeric's text, added with
 * core/decimal.ts, divided as AVG(numeric) divides), so a window built from buckets gives the
 * same average as one AVG over it. Latencies are float8, as PERCENTILE_CONT reads them (numeric
 * is cast to float8 for it).
 * Skipped values: a latency or cost that is not a plain non-negative number ≤ the plan's max is
 * NULL, counted as skipped (latencySkipped = requests − latency samples; costSkipped = rows with a
 * cost − usable costs).
 */

// A plain non-negative decimal, optionally with a small exponent: what ::numeric can take safely.
const NUMBER_RE = String.raw`^[0-9]+(\.[0-9]+)?([eE]\+?[0-9]{1,3})?$`;

/**
 * A jsonb scalar as numeric when it is a non-negative number ≤ max (a JSON number, or a string
 * holding one), else NULL. JSON numbers never print with an exponent nor a sign but '-', so
 * "≥ 0" on the number is exactly what the regex accepts on its text; only strings pay for the
 * regex. Read with jsonb_typeof + a jsonb→numeric cast: no text round trip for numbers.
 */
export const numeric = (j: string, maxParam: string) => `
    CASE jsonb_typeof(${j})
      WHEN 'number' THEN CASE WHEN ${j}::numeric BETWEEN 0 AND ${maxParam} THEN ${j}::numeric END
      WHEN 'string' THEN CASE WHEN ${j} #>> '{}' ~ '${NUMBER_RE}' THEN
        CASE WHEN (${j} #>> '{}')::numeric <= ${maxParam} THEN (${j} #>> '{}')::numeric END END
    END`;

/** A regenerate voucher, and a successful generation: the voucher red line's two counts. */
const IS_REGENERATE_VOUCHER = `event_type = 'voucher_issued' AND event_data->>'reason' = 'regenerate'`;
const IS_GEN_OK = `event_type = 'gen_ok'`;

/**
 * gen_route rows, one per row: provider (grouped COLLATE "C": byte equality, no locale sort),
 * failed, lat and cost (numeric or NULL when skipped), has_cost, plus the caller's `extra`
 * columns ([expression of created_at, name]). Each jsonb field is looked up once per row and each
 * value computed once: the subqueries are fenced with OFFSET 0, because Postgres would otherwise
 * inline them and re-evaluate `cost` (lookups, casts, regex) in every aggregate that uses it.
 */
function routeRows(where: string, latMax: string, costMax: string, extra: [string, string][] = []): string {
  return `(
  SELECT provider, failed, has_cost, ${numeric('lat_j', latMax)} AS lat, ${numeric('cost_j', costMax)} AS cost${extra.map(([, n]) => `, ${n}`).join('')}
  FROM (
    SELECT event_data->>'provider' COLLATE "C" AS provider,
           event_data->>'error' IS NOT NULL AS failed,
           event_data->'latency_ms' AS lat_j,
           event_data->'cost_per_image' AS cost_j,
           event_data->>'cost_per_image' IS NOT NULL AS has_cost${extra.map(([e, n]) => `,\n           ${e} AS ${n}`).join('')}
    FROM analytics_logs
    WHERE event_type = 'gen_route' AND ${where}
    OFFSET 0
  ) raw
  OFFSET 0
) route`;
}

/** The additive counts of gen_route rows, shared by the one-shot and the bucketed reads. */
const ROUTE_COUNTS = `
       count(*)::int AS requests,
       count(*) FILTER (WHERE failed)::int AS failures,
       count(lat)::int AS latency_samples,
       count(cost)::int AS cost_samples,
       (count(*) FILTER (WHERE has_cost) - count(cost))::int AS cost_skipped`;

/**
 * One window in one query, as the runbook's queries compute it (the reference the bucketed reads
 * must equal). Parameters: $1 start, $2 end, $3 maxLatencyMs, $4 maxCostPerImage. Without p95 no
 * ordered-set aggregate: Postgres can hash-aggregate instead of sorting the window.
 */
export const routeWindowSql = (withP95: boolean) => `
SELECT provider,${ROUTE_COUNTS},
       ${withP95 ? 'percentile_cont(0.95) WITHIN GROUP (ORDER BY lat)' : 'NULL::float8'} AS p95_latency_ms,
       avg(cost) AS avg_cost
FROM ${routeRows('created_at >= $1 AND created_at <= $2', '$3', '$4')}
GROUP BY provider`;

/*
 * One range read of both event types. (Counting gen_ok apart, from the index alone, looked
 * cheaper, but the newest pages of a busy table are not all-visible: the index-only scan then
 * visits the heap tuple by tuple and was ~2× slower than this bitmap scan in bench/.)
 */
export const VOUCHER_WINDOW_SQL = `
SELECT count(*) FILTER (WHERE ${IS_REGENERATE_VOUCHER})::int AS vouchers,
       count(*) FILTER (WHERE ${IS_GEN_OK})::int AS gen_ok
FROM analytics_logs
WHERE event_type IN ('voucher_issued', 'gen_ok') AND created_at >= $1 AND created_at <= $2`;

export interface BucketSqlOptions {
  /** The bucket's start: a timestamptz expression of created_at (date_bin). */
  bucket: string;
  /** An int8 expression of created_at splitting a bucket into parts (NULL: the whole bucket); see the callers. */
  part: string;
  /** created_at condition (parameters are the caller's). */
  where: string;
  latMax: string;
  costMax: string;
  /** Parameter (a bucket start): from there on, also return the latencies themselves (float8[]), for an exact p95. */
  latenciesFrom?: string;
  /** Parameter holding the p95 threshold: the counts that decide p95 ≥ threshold (the backtest). */
  threshold?: string;
  /** Every bucket with its latencies (float8[]) and the largest id read (text): the live cache's incremental read. */
  incremental?: boolean;
  /**
   * The chart's latency histograms from the same read: `bins` (int[]), the bin of each latency
   * (float8) of the rows meeting `where`, counted into histograms by the caller. One int a row
   * costs less to send than grouping by bin in SQL costs to aggregate (a numeric cost sum per bin).
   */
  bins?: { where: string; bin: (lat: string) => string };
}

/**
 * Sums of gen_route rows per bucket, part and provider (columns: see parseRouteSums). With
 * latencies, the rows before and after `latenciesFrom` are two branches of a UNION ALL over
 * disjoint ranges (no row is read twice): array_agg keeps Postgres from hash-aggregating (it
 * reserves 8 kB a group), so only the few minutes that need their values pay for the sort.
 */
export function routeBucketsSql(o: BucketSqlOptions): string {
  const cols = (latencies: boolean) => [
    latencies ? 'array_agg(lat::float8) FILTER (WHERE lat IS NOT NULL) AS latencies' : 'NULL::float8[] AS latencies',
    ...(o.incremental ? ['max(id)::text AS max_id'] : []),
    ...(o.bins ? [`array_agg(${o.bins.bin('lat::float8')}) FILTER (WHERE in_bins AND lat IS NOT NULL) AS bins`] : []),
    ...(o.threshold
      ? [
          `count(*) FILTER (WHERE lat >= ${o.threshold})::int AS latency_at_or_above`,
          `max(lat) FILTER (WHERE lat < ${o.threshold})::float8 AS latency_below_max`,
          `min(lat) FILTER (WHERE lat >= ${o.threshold})::float8 AS latency_above_min`,
        ]
      : []),
  ];
  const extra: [string, string][] = [
    [o.bucket, 'bucket'],
    [o.part, 'part'],
    ...(o.incremental ? ([['id', 'id']] as [string, string][]) : []),
    ...(o.bins ? ([[o.bins.where, 'in_bins']] as [string, string][]) : []),
  ];
  const branch = (where: string, latencies: boolean) => `
SELECT bucket, part, provider,${ROUTE_COUNTS},
       sum(cost)::text AS cost_sum,
       ${cols(latencies).join(',\n       ')}
FROM ${routeRows(where, o.latMax, o.costMax, extra)}
GROUP BY bucket, part, provider`;
  if (o.incremental) return branch(o.where, true);
  if (!o.latenciesFrom) return branch(o.where, false);
  return `${branch(`${o.where} AND created_at < ${o.latenciesFrom}`, false)}
UNION ALL${branch(`${o.where} AND created_at >= ${o.latenciesFrom}`, true)}`;
}

/**
 * Regenerate vouchers and gen_ok per bucket and part. `types` narrows the read: gen_ok alone
 * touches no event_data, so on all-visible history it is counted from the index alone.
 */
export function voucherBucketsSql(o: {
  bucket: string;
  part: string;
  where: string;
  types?: ('voucher_issued' | 'gen_ok')[];
  /** Also the largest id read (text): the live cache's incremental read. */
  incremental?: boolean;
}): string {
  const types = o.types ?? ['voucher_issued', 'gen_ok'];
  return `
SELECT ${o.bucket} AS bucket, ${o.part} AS part,
       ${types.includes('voucher_issued') ? `count(*) FILTER (WHERE ${IS_REGENERATE_VOUCHER})` : '0'}::int AS vouchers,
       ${types.includes('gen_ok') ? `count(*) FILTER (WHERE ${IS_GEN_OK})` : '0'}::int AS gen_ok${o.incremental ? ',\n       max(id)::text AS max_id' : ''}
FROM analytics_logs
WHERE event_type IN (${types.map((t) => `'${t}'`).join(', ')}) AND ${o.where}${types.includes('gen_ok') ? '' : ` AND event_data->>'reason' = 'regenerate'`}
GROUP BY 1, 2`;
}

// --- the sums, in JS ---------------------------------------------------------------------------

/** A row of routeBucketsSql as sums. */
export function parseRouteSums(r: QueryResultRow): RouteSums {
  return {
    requests: r.requests,
    failures: r.failures,
    latencySamples: r.latency_samples,
    costSamples: r.cost_samples,
    costSkipped: r.cost_skipped,
    costSum: r.cost_sum === null ? null : parseDecimal(r.cost_sum),
    latencies: r.latencies ?? null,
    atOrAbove: r.latency_at_or_above ?? 0,
    belowMax: r.latency_below_max ?? Number.NaN,
    aboveMin: r.latency_above_min ?? Number.NaN,
  };
}

export const sortedLatencies = (values: number[] | null): Float64Array => Float64Array.from(values ?? []).sort();

/**
 * PERCENTILE_CONT(0.95) exactly as Postgres computes it over float8 values: position
 * p = 0.95 (n − 1), the value at floor(p), plus (p − floor(p)) × (next − it) in float8
 * (percentile_cont_final_common and float8_lerp in orderedsetaggs.c); one implementation,
 * shared with the judge's order statistics.
 */
const percentileCont95 = (sorted: Float64Array): number | null => (sorted.length ? percentileCont(sorted, 0.95) : null);

/**
 * A window's ProviderStats from its sums, as the one-shot query returns them. `sorted`: the
 * window's latencies already sorted (the caller also needs them for the judge), else sorted here.
 */
export function providerStats(s: RouteSums, withP95: boolean, sorted?: Float64Array): ProviderStats {
  return {
    requests: s.requests,
    failures: s.failures,
    latencySamples: s.latencySamples,
    latencySkipped: s.requests - s.latencySamples,
    p95LatencyMs: withP95 ? percentileCont95(sorted ?? sortedLatencies(s.latencies)) : null,
    costSamples: s.costSamples,
    costSkipped: s.costSkipped,
    avgCostPerImage: s.costSum && s.costSamples > 0 ? Number(divideLikePostgres(s.costSum, s.costSamples)) : null,
  };
}

/**
 * A window's providers in one fixed order (by key), whichever way they were summed, so the
 * bucketed and one-shot reads of the same rows are the same object down to key order.
 */
export function sortedProviders(entries: [string, ProviderStats][]): Record<string, ProviderStats> {
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Provider key as the windows show it: rows without one are "(none)". */
export const providerKey = (p: string | null) => p ?? '(none)';

/** A reader of every window at once from bucket sums (the process's cache: rolling-windows.ts). */
export interface WindowSource {
  snapshot(pool: Pick<pg.Pool, 'query'>, end: Date, windows: SnapshotWindows): Promise<MetricsSnapshot>;
}

export interface SnapshotWindows {
  route: number[];
  voucher: number[];
  /** The route window whose p95 is computed. */
  p95: number;
}
