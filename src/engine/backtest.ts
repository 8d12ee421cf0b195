import { RED_LINES } from '../plan/plan.ts';
import { bucketMs, emptySeries, replay, SeriesWindows, type BacktestResult } from '../core/backtest.ts';
import { readHistory, type HistoryProgress } from '../db/history-queries.ts';
import { measureBaselineCost, readRouteWindow } from '../db/metrics-queries.ts';
import type { EngineRef } from './deps.ts';

export interface BacktestRun extends BacktestResult {
  rowsRead: number;
  tookMs: number;
}

/**
 * Replays the plan's red lines over the last `sinceMs` of analytics_logs with the guard's own
 * evaluator and `for` clocks, to tune thresholds and minSamples before D1. Read-only.
 */
export async function backtest(service: EngineRef, sinceMs: number, onProgress?: HistoryProgress): Promise<BacktestRun> {
  const { plan, db } = service.deps;
  const started = Date.now();
  const step = bucketMs(plan);
  const end = Math.floor(service.deps.now().getTime() / step) * step;
  const longest = Math.max(plan.trafficWindowMs, ...RED_LINES.map((n) => plan.redLines[n].windowMs));
  // Buckets start one longest window early, so the first evaluation sees full windows.
  const startMs = end - sinceMs - longest;
  const series = emptySeries(startMs, step, (end - startMs) / step);
  const [{ rows }, baseline] = await Promise.all([
    readHistory(db.metricsPool, plan, series, onProgress),
    plan.baselineCostPerImage !== null
      ? Promise.resolve({ cost: plan.baselineCostPerImage, note: 'baselineCostPerImage from the plan' })
      : measureBaselineCost(db.metricsPool, plan, new Date(end - sinceMs)).then((m) => ({
          cost: m.cost,
          note:
            m.cost !== null
              ? `average ${plan.providerNames[plan.from]} cost over the ${Math.round(plan.baselineLookbackMs / 3_600_000)} h before the backtest (${m.samples} images)`
              : `not measurable (${m.samples} ${plan.providerNames[plan.from]} costs before the backtest); the cost red line has no data`,
        })),
  ]);
  const windows = new SeriesWindows(plan, series);
  const first = longest / step - 1 + plan.evaluateEveryMs / step;
  const result = replay(windows, first, baseline.cost, baseline.note);
  // The report shows p95 values where a rollback would have fired: read those exactly too.
  for (const r of result.rollbacks) {
    if (r.line.name !== 'p95LatencyMs') continue;
    const w = await readRouteWindow(db.metricsPool, plan, new Date(r.at), plan.redLines.p95LatencyMs.windowMs, true);
    r.line = { ...r.line, value: w.providers[plan.to]?.p95LatencyMs ?? r.line.value };
  }
  return { ...result, rowsRead: rows, tookMs: Date.now() - started };
}
