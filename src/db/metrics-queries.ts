import type pg from 'pg';
import type { Plan } from '../plan/plan.ts';
import { RED_LINES } from '../plan/plan.ts';
import { withStatementTimeout } from './database.ts';
import type { MetricsSnapshot, ProviderStats, RouteWindow, VoucherWindow } from '../core/metrics.ts';
import { MIN_ROLLING_WINDOW_MS, type RollingWindows } from './rolling-windows.ts';

/*
 * The seed's metrics over a window [end - window, end], as the plan's SQL defines them, made
 * safe for real data: values that are not plain non-negative numbers (or are absurd) are
 * skipped and counted instead of failing the query. Every query filters on event_type and a
 * created_at range, so the (event_type, created_at) index (sql/003) reads only the window.
 *
 * Cost per row matters: the guard runs these every 30 s and the 1 h windows hold tens of
 * thousands of rows at production rates (see bench/). So: JSON numbers are read with
 * jsonb_typeof + a jsonb→numeric cast (no text round trip, no regex); only string values take
 * the regex path. Grouping is by provider COLLATE "C" (byte equality, same groups, no locale
 * sort). The windows without p95 use no ordered-set aggregate, so Postgres can hash-aggregate
 * instead of sorting every row.
 */

// A plain non-negative decimal, optionally with a small exponent: what ::numeric can take safely.
const NUMBER_RE = String.raw`^[0-9]+(\.[0-9]+)?([eE]\+?[0-9]{1,3})?$`;

/**
 * A jsonb scalar as numeric when it is a non-negative number ≤ max (a JSON number, or a string
 * holding one), else NULL. JSON numbers never print with an exponent nor a sign but '-', so
 * "≥ 0" on the number is exactly what the regex accepts on its text; only strings pay for the
 * regex.
 */
export const numeric = (j: string, maxParam: string) => `
    CASE jsonb_typeof(${j})
      WHEN 'number' THEN CASE WHEN ${j}::numeric BETWEEN 0 AND ${maxParam} THEN ${j}::numeric END
      WHEN 'string' THEN CASE WHEN ${j} #>> '{}' ~ '${NUMBER_RE}' THEN
        CASE WHEN (${j} #>> '{}')::numeric <= ${maxParam} THEN (${j} #>> '{}')::numeric END END
    END`;

/*
 * Each jsonb field is looked up once per row and each value computed once per row: the two
 * subqueries are fenced with OFFSET 0, because Postgres would otherwise inline them and
 * re-evaluate `cost` (lookups, casts, regex) in every aggregate that uses it.
 * cost_skipped = rows with a cost – rows with a usable cost (a usable cost implies one is present).
 */
const routeSql = (withP95: boolean) => `
SELECT provider,
       count(*)::int AS requests,
       count(*) FILTER (WHERE failed)::int AS failures,
       count(lat)::int AS latency_samples,
       ${withP95 ? 'percentile_cont(0.95) WITHIN GROUP (ORDER BY lat)' : 'NULL::float8'} AS p95_latency_ms,
       count(cost)::int AS cost_samples,
       (count(*) FILTER (WHERE has_cost) - count(cost))::int AS cost_skipped,
       avg(cost) AS avg_cost
FROM (
  SELECT provider, failed, has_cost, ${numeric('lat_j', '$3')} AS lat, ${numeric('cost_j', '$4')} AS cost
  FROM (
    SELECT event_data->>'provider' COLLATE "C" AS provider,
           event_data->>'error' IS NOT NULL AS failed,
           event_data->'latency_ms' AS lat_j,
           event_data->'cost_per_image' AS cost_j,
           event_data->>'cost_per_image' IS NOT NULL AS has_cost
    FROM analytics_logs
    WHERE event_type = 'gen_route' AND created_at >= $1 AND created_at <= $2
    OFFSET 0
  ) raw
  OFFSET 0
) route
GROUP BY provider`;

/** Parameters: $1 start, $2 end, $3 maxLatencyMs, $4 maxCostPerImage. */
export const ROUTE_WINDOW_SQL = routeSql(true);
/** The same without p95 (the cost and traffic windows): hashable, no sort of the window. */
export const ROUTE_WINDOW_NO_P95_SQL = routeSql(false);

/*
 * One range read of both event types. (Counting gen_ok apart, from the index alone, looked
 * cheaper, but the newest pages of a busy table are not all-visible: the index-only scan then
 * visits the heap tuple by tuple and was ~2× slower than this bitmap scan in bench/.)
 */
export const VOUCHER_WINDOW_SQL = `
SELECT count(*) FILTER (WHERE event_type = 'voucher_issued' AND event_data->>'reason' = 'regenerate')::int AS vouchers,
       count(*) FILTER (WHERE event_type = 'gen_ok')::int AS gen_ok
FROM analytics_logs
WHERE event_type IN ('voucher_issued', 'gen_ok') AND created_at >= $1 AND created_at <= $2`;

export async function readRouteWindow(pool: Pick<pg.Pool, 'query'>, plan: Plan, end: Date, windowMs: number, withP95: boolean): Promise<RouteWindow> {
  const start = new Date(end.getTime() - windowMs);
  const { rows } = await pool.query(withP95 ? ROUTE_WINDOW_SQL : ROUTE_WINDOW_NO_P95_SQL, [start, end, plan.maxLatencyMs, plan.maxCostPerImage]);
  const providers: Record<string, ProviderStats> = {};
  for (const r of rows) {
    const key = r.provider ?? '(none)';
    providers[key] = {
      requests: r.requests,
      failures: r.failures,
      latencySamples: r.latency_samples,
      latencySkipped: r.requests - r.latency_samples,
      p95LatencyMs: r.p95_latency_ms === null ? null : Number(r.p95_latency_ms),
      costSamples: r.cost_samples,
      costSkipped: r.cost_skipped,
      avgCostPerImage: r.avg_cost === null ? null : Number(r.avg_cost),
    };
  }
  return { windowMs, end, providers };
}

export async function readVoucherWindow(pool: Pick<pg.Pool, 'query'>, end: Date, windowMs: number): Promise<VoucherWindow> {
  const start = new Date(end.getTime() - windowMs);
  const { rows } = await pool.query(VOUCHER_WINDOW_SQL, [start, end]);
  return { windowMs, end, vouchers: rows[0].vouchers, genOk: rows[0].gen_ok };
}

/**
 * The windows the red lines need, plus any extra (the traffic split). With `rolling` (the
 * guard), windows of 15 min or more that need no p95 are read incrementally
 * (src/db/rolling-windows.ts); everything else, and every read without it, is one exact query.
 */
export async function readSnapshot(
  pool: Pick<pg.Pool, 'query'>, plan: Plan, end: Date, extraRouteWindows: number[] = [], rolling?: RollingWindows,
): Promise<MetricsSnapshot> {
  const p95Window = plan.redLines.p95LatencyMs.windowMs;
  const routeWindows = [...new Set([...RED_LINES.map((n) => plan.redLines[n].windowMs), ...extraRouteWindows])];
  const voucherWindows = [plan.redLines.regenerateRatePercent.windowMs];
  const incremental = (w: number, p95: boolean) => !!rolling && !p95 && w >= MIN_ROLLING_WINDOW_MS;
  const [routes, vouchers] = await Promise.all([
    Promise.all(routeWindows.map((w) => incremental(w, w === p95Window)
      ? rolling!.readRoute(pool, end, w)
      : readRouteWindow(pool, plan, end, w, w === p95Window))),
    Promise.all(voucherWindows.map((w) => (incremental(w, false) ? rolling!.readVoucher(pool, end, w) : readVoucherWindow(pool, end, w)))),
  ]);
  return { at: end, routes, vouchers };
}

/** Reading a day of traffic once per run may take longer than the guard's 10 s statement cap. */
const BASELINE_TIMEOUT_MS = 120_000;

/** The average cost of `from` over the lookback before `end`: the cost red line's baseline. */
export async function measureBaselineCost(pool: pg.Pool, plan: Plan, end: Date): Promise<{ cost: number | null; samples: number }> {
  const w = await withStatementTimeout(pool, BASELINE_TIMEOUT_MS, (c) => readRouteWindow(c, plan, end, plan.baselineLookbackMs, false));
  const s = w.providers[plan.from];
  return { cost: s && s.costSamples >= plan.minSamples ? s.avgCostPerImage : null, samples: s?.costSamples ?? 0 };
}
