import type { Plan } from '../../plan/plan.ts';
import type { ChartSeries } from '../../core/chart-series.ts';
import type { BacktestResult } from '../../core/backtest.ts';
import { durationLabel } from '../../plan/duration.ts';
import type { ChartSpec } from './palette.ts';
import { minuteUtc } from './axes.ts';
import { panelsSpec } from './panels.ts';

/** The backtest's replay: every red line's values and thresholds, breaches, and each would-be rollback. */
export function backtestReplaySpec(plan: Plan, data: ChartSeries, result: Pick<BacktestResult, 'from' | 'to' | 'rollbacks'>): ChartSpec {
  const span = Date.parse(result.to) - Date.parse(result.from);
  const n = result.rollbacks.length;
  return panelsSpec(plan, data, {
    title: `Backtest over ${durationLabel(span)}: ${n ? `${n} would-be rollback${n === 1 ? '' : 's'}` : 'no rollback'}`,
    subtitle: `${minuteUtc(Date.parse(result.from))} – ${minuteUtc(Date.parse(result.to))} UTC · the guard's red lines replayed every ${durationLabel(plan.evaluateEveryMs)}`,
    // Each would-be rollback is drawn in the panel of the red line that fired it (the series
    // replays with clocks restarting after each, as the backtest does).
    marks: [],
    firedLabel: 'would roll back',
  });
}
