import type { Plan } from '../plan/plan.ts';
import { RED_LINES } from '../plan/plan.ts';
import { durationLabel, formatDuration } from '../plan/duration.ts';
import type { BacktestResult } from '../core/backtest.ts';
import { RED_LINE_LABELS } from '../core/red-lines.ts';
import { lineSummary, money, utc } from './format.ts';

type Run = BacktestResult & { rowsRead: number; tookMs: number };

const share = (n: number, total: number) => (total ? `${((n * 100) / total).toFixed(1)}%` : '—');

/** The backtest as lines of plain text; Slack wraps the same lines in blocks. */
export function backtestLines(plan: Plan, r: Run): { title: string; lines: string[]; rollbacks: string[]; footer: string } {
  const title = `Backtest of the red lines over ${utc(r.from)} → ${utc(r.to)}: ${r.evaluations} evaluations every ${durationLabel(r.stepMs)} of ${plan.providerNames[plan.to]}; baseline cost ${money(r.baselineCost)} (${r.baselineNote}).`;
  const lines = RED_LINES.map((name) => {
    const s = r.lines[name];
    const total = r.evaluations;
    const episodes = s.breachEpisodes
      ? `${s.breachEpisodes} breach episode${s.breachEpisodes > 1 ? 's' : ''}, longest ${formatDuration(s.longestBreachMs)}, first ${utc(s.firstBreachAt!)}`
      : 'never in breach';
    return `${RED_LINE_LABELS[name]} (${plan.redLines[name].threshold} over ${durationLabel(plan.redLines[name].windowMs)}, for ${durationLabel(plan.redLines[name].forMs)}): ok ${share(s.states.ok, total)} · breach ${share(s.states.breach, total)} · no data ${share(s.states.no_data, total)}; ${episodes}`;
  });
  const rollbacks = r.rollbacks.length
    ? r.rollbacks
        .slice(0, 20)
        .map(
          (b) =>
            `${utc(b.at)}: ${lineSummary(plan, b.line)} — held ${formatDuration(b.heldMs)}${b.shared ? ` — ${plan.providerNames[plan.from]} in breach too (shared cause)` : ''}`,
        )
    : [`No auto-rollback would have fired.`];
  if (r.rollbacks.length > 20) rollbacks.push(`…and ${r.rollbacks.length - 20} more.`);
  const footer = `Read ${r.rowsRead.toLocaleString('en-US')} rows in ${(r.tookMs / 1000).toFixed(1)} s. After each would-be rollback the clocks restart, as a new ${plan.stages[0].name} would. History has no weights, so "no traffic" alerts are not replayed.`;
  return { title, lines, rollbacks, footer };
}

/** "3" or "3, 1 of them with FAL in breach too": shared breaches are counted apart. */
export function rollbackCount(plan: Plan, r: Run): string {
  const shared = r.rollbacks.filter((b) => b.shared).length;
  return shared
    ? `${r.rollbacks.length}, ${shared} of them with ${plan.providerNames[plan.from]} in breach too`
    : String(r.rollbacks.length);
}

export function renderBacktest(plan: Plan, r: Run): string {
  const b = backtestLines(plan, r);
  return [
    b.title,
    ...b.lines.map((l) => `  ${l}`),
    `Auto-rollbacks that would have fired (${rollbackCount(plan, r)}):`,
    ...b.rollbacks.map((l) => `  ${l}`),
    b.footer,
  ].join('\n');
}
