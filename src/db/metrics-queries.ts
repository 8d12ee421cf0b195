import type pg from 'pg';
import type { Plan } from '../plan/plan.ts';
import { RED_LINES } from '../plan/plan.ts';
import type { MetricsSnapshot, ProviderStats, RouteWindow, VoucherWindow } from '../core/metrics.ts';

/*
 * The seed's metrics over a window [end - window, end], as the plan's SQL defines them, made
 * safe for real data: values that are not plain non-negative numbers (or are absurd) are
 * skipped and counted instead of failing the query. Every query filters on event_type and a
 * created_at range, so the (event_type, created_at) index (sql/003) reads only the window.
 */

// A plain non-negative decimal, optionally with a small exponent: what ::numeric can take safely.
const NUMBER_RE = String.raw`^[0-9]+(\.[0-9]+)?([eE]\+?[0-9]{1,3})?$`;

const numeric = (field: string, maxParam: string) => `
  CASE WHEN event_data->>'${field}' ~ '${NUMBER_RE}' THEN
    CASE WHEN (event_data->>'${field}')::numeric <= ${maxParam} THEN (event_data->>'${field}')::numeric END
  END`;

export const ROUTE_WINDOW_SQL = `
SELECT provider,
       count(*)::int AS requests,
       count(*) FILTER (WHERE failed)::int AS failures,
       count(lat)::int AS latency_samples,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY lat) FILTER (WHERE $3::boolean) AS p95_latency_ms,
       count(cost)::int AS cost_samples,
       count(*) FILTER (WHERE has_cost AND cost IS NULL)::int AS cost_skipped,
       avg(cost) AS avg_cost
FROM (
  SELECT event_data->>'provider' AS provider,
         event_data->>'error' IS NOT NULL AS failed,
         ${numeric('latency_ms', '$4')} AS lat,
         event_data->>'cost_per_image' IS NOT NULL AS has_cost,
         ${numeric('cost_per_image', '$5')} AS cost
  FROM analytics_logs
  WHERE event_type = 'gen_route' AND created_at >= $1 AND created_at <= $2
) route
GROUP BY provider`;

export const VOUCHER_WINDOW_SQL = `
SELECT count(*) FILTER (WHERE event_type = 'voucher_issued' AND event_data->>'reason' = 'regenerate')::int AS vouchers,
       count(*) FILTER (WHERE event_type = 'gen_ok')::int AS gen_ok
FROM analytics_logs
WHERE event_type IN ('voucher_issued', 'gen_ok') AND created_at >= $1 AND created_at <= $2`;

export async function readRouteWindow(pool: Pick<pg.Pool, 'query'>, plan: Plan, end: Date, windowMs: number, withP95: boolean): Promise<RouteWindow> {
  const start = new Date(end.getTime() - windowMs);
  const { rows } = await pool.query(ROUTE_WINDOW_SQL, [start, end, withP95, plan.maxLatencyMs, plan.maxCostPerImage]);
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

/** The windows the red lines need, plus any extra (the traffic split). */
export async function readSnapshot(pool: Pick<pg.Pool, 'query'>, plan: Plan, end: Date, extraRouteWindows: number[] = []): Promise<MetricsSnapshot> {
  const p95Window = plan.redLines.p95LatencyMs.windowMs;
  const routeWindows = [...new Set([...RED_LINES.map((n) => plan.redLines[n].windowMs), ...extraRouteWindows])];
  const voucherWindows = [plan.redLines.regenerateRatePercent.windowMs];
  const [routes, vouchers] = await Promise.all([
    Promise.all(routeWindows.map((w) => readRouteWindow(pool, plan, end, w, w === p95Window))),
    Promise.all(voucherWindows.map((w) => readVoucherWindow(pool, end, w))),
  ]);
  return { at: end, routes, vouchers };
}

/** The average cost of `from` over the lookback before `end`: the cost red line's baseline. */
export async function measureBaselineCost(pool: Pick<pg.Pool, 'query'>, plan: Plan, end: Date): Promise<{ cost: number | null; samples: number }> {
  const w = await readRouteWindow(pool, plan, end, plan.baselineLookbackMs, false);
  const s = w.providers[plan.from];
  return { cost: s && s.costSamples >= plan.minSamples ? s.avgCostPerImage : null, samples: s?.costSamples ?? 0 };
}
