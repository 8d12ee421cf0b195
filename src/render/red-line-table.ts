import type { Plan } from '../plan/plan.ts';
import { durationLabel } from '../plan/duration.ts';
import { RED_LINE_LABELS, type LineEvaluation } from '../core/red-lines.ts';
import { count, formatThreshold, formatValue, lineIcon, lineState, money } from './format.ts';

/*
 * Every red line with both providers side by side: Runware's value and n (the one judged) and
 * FAL's (context), the threshold, the window and the state. One model, two dresses: an aligned
 * table for the console, the CLI and reports in text; Block Kit fields for Slack (blocks/red-lines.ts).
 */

/** One provider's cell: the value as printed beside the threshold, and the rows behind it. */
export interface Side {
  value: string;
  n: string;
}

export interface RedLineRow {
  line: LineEvaluation;
  icon: string;
  label: string;
  threshold: string;
  window: string;
  /** The candidate (Runware), the one judged; for a red line on all traffic, that rate. */
  to: Side;
  /** One rate for all traffic, not per provider (vouchers, as in the seed). */
  allTraffic: boolean;
  /** The incumbent (FAL), for comparison; null when the red line is one rate for all traffic (vouchers, as in the seed). */
  from: Side | null;
  /** ok, BREACH for 3m of 5m, no data (why). */
  state: string;
  /** Cost per image in dollars, unusable rows skipped. */
  note: string | null;
}

/** A red line as status and the checklist hold it: the evaluation and its breach clock. */
export interface HeldLine {
  evaluation: LineEvaluation;
  heldMs?: number | null;
  forMs?: number;
}

/** A cost ratio in a table cell: the threshold's column says "baseline" once. */
const cell = (line: LineEvaluation, value: number | null) => formatValue(line.name, value, line.threshold).replace('× baseline', '×');

export function redLineRow(plan: Plan, h: HeldLine): RedLineRow {
  const l = h.evaluation;
  const allTraffic = l.name === 'regenerateRatePercent';
  const notes: string[] = [];
  if (l.cost?.candidate != null)
    notes.push(`${plan.providerNames[plan.to]} ${money(l.cost.candidate)} per image, baseline ${money(l.cost.baseline)}`);
  else if (l.cost?.baseline != null) notes.push(`baseline ${money(l.cost.baseline)} per image`);
  if (l.skipped) notes.push(`${l.skipped} unusable skipped`);
  return {
    line: l,
    icon: lineIcon(l),
    label: RED_LINE_LABELS[l.name],
    threshold: formatThreshold(l.name, l.threshold),
    window: durationLabel(l.windowMs),
    to: { value: cell(l, l.value), n: count(l.samples) },
    allTraffic,
    from: allTraffic ? null : { value: cell(l, l.fromValue), n: l.fromSamples === undefined ? '—' : count(l.fromSamples) },
    state: lineState(l, h.heldMs != null && h.forMs !== undefined ? { heldMs: h.heldMs, forMs: h.forMs } : undefined),
    note: notes.length ? notes.join('; ') : null,
  };
}

export const redLineRows = (plan: Plan, lines: HeldLine[]) => lines.map((h) => redLineRow(plan, h));

/** The header above the table: who is judged and who is context. */
export const redLinesHeading = (plan: Plan) =>
  `Red lines (${plan.providerNames[plan.to]} judged, ${plan.providerNames[plan.from]} for comparison)`;

/**
 * The rows as an aligned table, one line each, without indent:
 *
 *   red line        threshold  window  Runware      n  FAL          n  state
 *   p95 latency     ≥ 8.00 s   5m      2.40 s     312  3.10 s   2,810  ok
 *   failure rate    > 2.00%    1m      3.23%      341  0.48%    3,069  BREACH for 3m of 5m
 *
 * `extra` adds a column before the state (a report's change since the last one).
 */
export function redLineTable(plan: Plan, rows: RedLineRow[], extra?: { header: string; cells: string[] }): string[] {
  const head = ['red line', 'threshold', 'window', plan.providerNames[plan.to], 'n', plan.providerNames[plan.from], 'n'];
  const body = rows.map((r) => [r.label, r.threshold, r.window, r.to.value, r.to.n, r.from ? r.from.value : '—', r.from ? r.from.n : '']);
  if (extra) {
    head.push(extra.header);
    for (const [i, b] of body.entries()) b.push(extra.cells[i] ?? '');
  }
  const rightAligned = new Set([4, 6]);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((b) => b[c].length)));
  const pad = (cells: string[]) => cells.map((t, c) => (rightAligned.has(c) ? t.padStart(widths[c]) : t.padEnd(widths[c]))).join('  ');
  const note = (r: RedLineRow) =>
    [r.allTraffic ? 'one rate for all traffic, both providers' : null, r.note].filter((t) => t !== null).join('; ');
  return [`${pad(head)}  state`, ...rows.map((r, i) => `${pad(body[i])}  ${r.state}${note(r) ? ` (${note(r)})` : ''}`)];
}

/** One row on one line: "p95 latency ≥ 8.00 s, 5m: Runware 2.40 s (n=312) · FAL 3.10 s (n=2,810): ok". */
export function rowSummary(plan: Plan, r: RedLineRow): string {
  const to = `${r.allTraffic ? 'all traffic' : plan.providerNames[plan.to]} ${r.to.value} (n=${r.to.n})`;
  const from = r.from ? ` · ${plan.providerNames[plan.from]} ${r.from.value} (n=${r.from.n})` : '';
  return `${r.label} ${r.threshold}, ${r.window}: ${to}${from}: ${r.state}${r.note ? ` (${r.note})` : ''}`;
}
