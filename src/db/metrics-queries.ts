import type pg from 'pg';
import type { Plan } from '../plan/plan.ts';
import { RED_LINES } from '../plan/plan.ts';
import { withStatementTimeout } from './database.ts';
import type { MetricsSnapshot, ProviderStats, RouteWindow, VoucherWindow } from '../core/metrics.ts';
import {
  providerKey,
  routeWindowSql,
  sortedProviders,
  VOUCHER_WINDOW_SQL,
  type SnapshotWindows,
  type WindowSource,
} from './metric-sums.ts';

/*
 * The runbook's metrics over one window [end − window, end], each in one query: the reference
 * that every bucketed read (the guard's cache, the backtest's history) must equal, and the read
 * for one-off windows (the 24 h baseline). The metrics themselves are defined once, in
 * metric-sums.ts. Every query filters on event_type and a created_at range, so the
 * (event_type, created_at) index (sql/003) reads only the window.
 */

/** Parameters: $1 start, $2 end, $3 maxLatencyMs, $4 maxCostPerImage. */
export const ROUTE_WINDOW_SQL = routeWindowSql(true);
/** The same without p95 (the cost and traffic windows): hashable, no sort of the window. */
export const ROUTE_WINDOW_NO_P95_SQL = routeWindowSql(false);
export { VOUCHER_WINDOW_SQL };

export async function readRouteWindow(
  pool: Pick<pg.Pool, 'query'>,
  plan: Plan,
  end: Date,
  windowMs: number,
  withP95: boolean,
): Promise<RouteWindow> {
  const start = new Date(end.getTime() - windowMs);
  const { rows } = await pool.query(withP95 ? ROUTE_WINDOW_SQL : ROUTE_WINDOW_NO_P95_SQL, [
    start,
    end,
    plan.maxLatencyMs,
    plan.maxCostPerImage,
  ]);
  const entries: [string, ProviderStats][] = rows.map((r) => [
    providerKey(r.provider),
    {
      requests: r.requests,
      failures: r.failures,
      latencySamples: r.latency_samples,
      latencySkipped: r.requests - r.latency_samples,
      p95LatencyMs: r.p95_latency_ms === null ? null : Number(r.p95_latency_ms),
      costSamples: r.cost_samples,
      costSkipped: r.cost_skipped,
      avgCostPerImage: r.avg_cost === null ? null : Number(r.avg_cost),
    },
  ]);
  return { windowMs, end, providers: sortedProviders(entries) };
}

export async function readVoucherWindow(pool: Pick<pg.Pool, 'query'>, end: Date, windowMs: number): Promise<VoucherWindow> {
  const start = new Date(end.getTime() - windowMs);
  const { rows } = await pool.query(VOUCHER_WINDOW_SQL, [start, end]);
  return { windowMs, end, vouchers: rows[0].vouchers, genOk: rows[0].gen_ok };
}

/** The windows the red lines need, plus any extra (the traffic split). */
function snapshotWindows(plan: Plan, extraRouteWindows: number[] = []): SnapshotWindows {
  return {
    route: [...new Set([...RED_LINES.map((n) => plan.redLines[n].windowMs), ...extraRouteWindows])],
    voucher: [plan.redLines.regenerateRatePercent.windowMs],
    p95: plan.redLines.p95LatencyMs.windowMs,
  };
}

/**
 * Every window the red lines need, plus any extra. With `source` (the process's per-minute
 * cache, rolling-windows.ts: the guard, status, reports) all of them come from its bucket sums in
 * one read of the new rows; without it, each window is one exact query.
 */
export async function readSnapshot(
  pool: Pick<pg.Pool, 'query'>,
  plan: Plan,
  end: Date,
  extraRouteWindows: number[] = [],
  source?: WindowSource,
): Promise<MetricsSnapshot> {
  const w = snapshotWindows(plan, extraRouteWindows);
  if (source) return source.snapshot(pool, end, w);
  const [routes, vouchers] = await Promise.all([
    Promise.all(w.route.map((ms) => readRouteWindow(pool, plan, end, ms, ms === w.p95))),
    Promise.all(w.voucher.map((ms) => readVoucherWindow(pool, end, ms))),
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
