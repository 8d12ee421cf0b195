import type { Plan, RedLineName, Weights } from '../plan/plan.ts';
import { durationLabel, formatDuration } from '../plan/duration.ts';
import { RED_LINE_LABELS, type LineEvaluation } from '../core/red-lines.ts';
import { weightsSummary } from '../core/weights.ts';

/** Words and numbers shared by the text and the Block Kit renderers, so both say the same thing. */

/** A value in its red line's unit, at `digits` decimals; p95 under a second in ms. */
function inUnit(name: RedLineName, value: number, digits: number): string {
  switch (name) {
    case 'p95LatencyMs':
      return value >= 1000 ? `${(value / 1000).toFixed(digits)} s` : `${value.toFixed(Math.max(0, digits - 2))} ms`;
    case 'failureRatePercent':
    case 'regenerateRatePercent':
      return `${value.toFixed(digits)}%`;
    case 'costPerImageRatio':
      return `${value.toFixed(digits)}× baseline`;
  }
}

const DIGITS = 2;
const MORE_DIGITS = 4;
/** The number a reader sees in a formatted value, back in the metric's unit (ms for p95). */
function shown(name: RedLineName, value: number, digits: number): number {
  if (name !== 'p95LatencyMs') return Number(value.toFixed(digits));
  return value >= 1000 ? Number((value / 1000).toFixed(digits)) * 1000 : Number(value.toFixed(Math.max(0, digits - 2)));
}

/**
 * A red line's value: two decimals (p95 in s from a second up, whole ms below), and, next to a
 * threshold, as many more as it takes (up to four more; beyond that, in words) for the printed value to sit on the same
 * side of the printed threshold as the real one: a p95 of 7 995.5 ms beside "≥ 8.00 s" prints
 * "7.9955 s", not "8.00 s".
 */
export function formatValue(name: RedLineName, value: number | null, threshold?: number): string {
  if (value === null) return '—';
  if (threshold === undefined || value === threshold) return inUnit(name, value, DIGITS);
  const side = Math.sign(value - threshold);
  for (let digits = DIGITS; digits < DIGITS + MORE_DIGITS; digits++) {
    if (Math.sign(shown(name, value, digits) - shown(name, threshold, DIGITS)) === side) return inUnit(name, value, digits);
  }
  // Closer than that is a rounding error's width (p95 is interpolated): say the side in words.
  return `just ${side > 0 ? 'above' : 'below'} ${inUnit(name, threshold, DIGITS)}`;
}

export function formatThreshold(name: RedLineName, threshold: number): string {
  const cmp = name === 'p95LatencyMs' ? '≥' : '>';
  return `${cmp} ${formatValue(name, threshold)}`;
}

export const money = (v: number | null) => (v === null ? '—' : `$${v.toFixed(4)}`);

const stateWord = (line: LineEvaluation) => ({ ok: 'ok', breach: 'BREACH', no_data: 'no data', error: 'ERROR' })[line.state];

/** "1,234": sample sizes read at a glance. */
export const count = (n: number) => n.toLocaleString('en-US');

/** "ok", "BREACH for 3m of 5m", "no data (0 Runware requests in the window, …)". */
export function lineState(line: LineEvaluation, held?: { heldMs: number | null; forMs: number }): string {
  let state = stateWord(line);
  if (line.state === 'breach' && held?.heldMs != null) state = `BREACH for ${formatDuration(held.heldMs)} of ${durationLabel(held.forMs)}`;
  if (line.state === 'no_data' || line.state === 'error') state += line.reason ? ` (${line.reason})` : '';
  return state;
}

/**
 * "failure rate 3.23% (red line > 2.00%, 1m window, n=341; FAL 0.48%, n=3,069): BREACH for 3m of 5m",
 * the one-line form alerts and approval requests use; status, the checklist and reports show a table.
 */
export function lineSummary(plan: Plan, line: LineEvaluation, held?: { heldMs: number | null; forMs: number }): string {
  const label = RED_LINE_LABELS[line.name];
  const value = formatValue(line.name, line.value, line.threshold);
  const cost = line.cost ? `, ${plan.providerNames[plan.to]} ${money(line.cost.candidate)} vs baseline ${money(line.cost.baseline)}` : '';
  const skipped = line.skipped ? `, ${line.skipped} unusable skipped` : '';
  const from =
    line.fromValue !== null && line.fromSamples !== undefined
      ? `; ${plan.providerNames[plan.from]} ${formatValue(line.name, line.fromValue, line.threshold)}, n=${count(line.fromSamples)}`
      : '';
  return `${label} ${value} (red line ${formatThreshold(line.name, line.threshold)}, ${durationLabel(line.windowMs)} window, n=${count(line.samples)}${skipped}${cost}${from}): ${lineState(line, held)}`;
}

/** A report's change since the last one: "+0.10%", "−0.25 s", "+0.02×"; '' without a previous report. */
export function sinceLast(name: RedLineName, delta: number | null | undefined): string {
  if (delta === null || delta === undefined) return '';
  return `${delta >= 0 ? '+' : '−'}${formatValue(name, Math.abs(delta)).replace('× baseline', '×')}`;
}

export function lineIcon(line: LineEvaluation): string {
  return { ok: '✅', breach: '🔴', no_data: '⚪', error: '⚠️' }[line.state];
}

export const weightsLine = (plan: Plan, w: Weights) => weightsSummary(plan, w);

/** "2026-11-28 10:00 UTC", from the ISO form: date-fns's format() prints local time, and UTC would need another package. */
export function utc(at: Date | string): string {
  const d = typeof at === 'string' ? new Date(at) : at;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export const percent = (share: number) => `${(share * 100).toFixed(1)}%`;

/**
 * Shadow mode must be said in every alert, so nobody reads an alert as "the bot has it in hand".
 * Breach and would-be-rollback alerts say it in their own words; the others get this line.
 */
export function shadowNote(plan: Plan, kind: string): string | null {
  if (plan.autoRollback) return null;
  const alerts = ['breach_recovered', 'no_traffic', 'traffic_restored', 'flag_drift', 'guard_error', 'guard_recovered', 'manual_rollback'];
  return alerts.includes(kind) ? 'Shadow mode: the guard alerts only and never writes the flag.' : null;
}
