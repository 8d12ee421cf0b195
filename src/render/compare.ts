import { addMilliseconds } from 'date-fns/addMilliseconds';
import { addMinutes } from 'date-fns/addMinutes';
import { differenceInMinutes } from 'date-fns/differenceInMinutes';
import type { Plan } from '../plan/plan.ts';
import type { LineEvaluation } from '../core/red-lines.ts';
import type { StageVerdicts } from '../core/judge.ts';
import type { StatusView } from '../core/status.ts';
import { formatDuration } from '../plan/duration.ts';
import type { Comparison } from '../core/compare/interval.ts';
import type { SequentialResult } from '../core/compare/sequential.ts';
import type { SharedBreachLine } from '../core/compare/shared-breach.ts';
import type { OnSharedBreach } from '../plan/compare-schema.ts';
import { formatValue } from './format.ts';

/** The providers as people read them: plan.providerNames[plan.to] and [plan.from]. */
export interface Names {
  to: string;
  from: string;
}

const MINUS = '\u2212';

/** "+0.4", "−0.1", "0.0": the real minus sign, and no "−0.0". */
export function signed(value: number, digits = 1): string {
  const text = Math.abs(value).toFixed(digits);
  if (Number(text) === 0) return text;
  return `${value < 0 ? MINUS : '+'}${text}`;
}

const ratio = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : '∞');
const unavailable = (what: string, c: Extract<Comparison, { ok: false }>) => `${what}: no comparison (${c.reason})`;

/** "failures +0.4 pp [−0.1, +0.9]" */
export function failureText(c: Comparison): string {
  if (!c.ok) return unavailable('failures', c);
  return `failures ${signed(c.interval.estimate)} pp [${signed(c.interval.lower)}, ${signed(c.interval.upper)}]`;
}

/** "p95 1.12× FAL [0.98, 1.30]" */
export function p95Text(c: Comparison, names: Names): string {
  if (!c.ok) return unavailable('p95', c);
  return `p95 ${ratio(c.interval.estimate)}× ${names.from} [${ratio(c.interval.lower)}, ${ratio(c.interval.upper)}]`;
}

/** "cost 1.05× FAL [1.01, 1.09]" */
export function costText(c: Comparison, names: Names): string {
  if (!c.ok) return unavailable('cost', c);
  return `cost ${ratio(c.interval.estimate)}× ${names.from} [${ratio(c.interval.lower)}, ${ratio(c.interval.upper)}]`;
}

/** "vouchers +0.3 pp vs the hour before D1 [−0.2, +0.8]" */
export function voucherText(c: Comparison, firstStage = 'D1'): string {
  if (!c.ok) return unavailable('vouchers', c);
  return `vouchers ${signed(c.interval.estimate)} pp vs the hour before ${firstStage} [${signed(c.interval.lower)}, ${signed(c.interval.upper)}]`;
}

/** "Runware vs FAL: failures +0.4 pp [−0.1, +0.9] · p95 1.12× FAL [0.98, 1.30] · …" */
export const versusLine = (names: Names, parts: string[]) => `${names.to} vs ${names.from}: ${parts.join(' · ')}`;

/** Which comparison a sequential result is about, and how its numbers read. */
type Metric = 'failures' | 'latency';

function estimateText(r: SequentialResult, metric: Metric): string {
  return metric === 'failures'
    ? `${signed(r.estimate)} pp [${signed(r.lower)}, ${signed(r.upper)}]`
    : `${ratio(r.estimate)}× [${ratio(r.lower)}, ${ratio(r.upper)}]`;
}

const marginText = (r: SequentialResult, metric: Metric) => (metric === 'failures' ? `${r.margin} pp` : `${r.margin}×`);

/** About how long `more` Runware requests take at the current rate, or '' without a rate. */
function timeText(more: number, runwarePerMinute: number | null): string {
  if (!runwarePerMinute || runwarePerMinute <= 0) return '';
  return `, ~${formatDuration(Math.max(1, Math.ceil(more / runwarePerMinute)) * 60_000)} at the current rate`;
}

/** What the sentence may add to a verdict: what it counted, the minimum, and the rates to say when there is enough. */
export interface VerdictContext {
  /** Runware requests per minute over the counted minutes. */
  runwarePerMinute?: number | null;
  counted?: StageVerdicts['counted'];
  /** plan.compare.minSamples: rows each provider needs before any verdict. */
  minSamples?: number;
  /** Requests per minute per provider in the live traffic window, for a stage with nothing counted yet. */
  live?: { to: number; from: number } | null;
}

const MINUTE = 60_000;
const plural = (n: number, word: string) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

/**
 * "too few" in words a person gets: the verdicts count this stage's whole minutes once they have
 * settled, so a minute into a stage they have counted nothing however much traffic there is.
 * Says what was counted, what each provider needs, and about when there will be enough.
 */
function tooFewText(r: SequentialResult, metric: Metric, names: Names, ctx: VerdictContext): string {
  const head = `${names.to} vs ${names.from} on ${metric}`;
  const need = ctx.minSamples ? `each needs ${ctx.minSamples.toLocaleString('en-US')}` : 'each needs the minimum';
  const c = ctx.counted;
  if (!c) return `${head}: too few requests counted yet (${r.runwareSamples} ${names.to}, ${r.falSamples} ${names.from}; ${need})`;
  const from = new Date(c.from);
  const through = new Date(c.through);
  const minutes = differenceInMinutes(through, from);
  const settled = (end: Date) => addMilliseconds(end, c.settleMs);
  let when: Date | null = null;
  if (minutes > 0 && r.moreRunware !== null && ctx.runwarePerMinute)
    when = settled(addMinutes(through, Math.max(1, Math.ceil(r.moreRunware / ctx.runwarePerMinute))));
  else if (minutes === 0 && ctx.minSamples && ctx.live && ctx.live.to > 0 && ctx.live.from > 0)
    when = settled(addMinutes(from, Math.max(1, Math.ceil(ctx.minSamples / Math.min(ctx.live.to, ctx.live.from)))));
  const enough = when === null ? '' : `; enough at about ${clock(when)}`;
  if (minutes === 0) {
    const first = addMinutes(from, 1);
    return `${head}: nothing counted yet. It counts this stage's whole minutes, each ${formatDuration(c.settleMs)} after it ends: the first (${clock(from, false)}–${clock(first)}) counts at ${clock(settled(first))}; ${need}${enough}`;
  }
  const more = r.moreRunware ? `; about ${plural(r.moreRunware, `more ${names.to} request`)}` : '';
  return `${head}: too few requests yet, ${r.runwareSamples.toLocaleString('en-US')} ${names.to} and ${r.falSamples.toLocaleString('en-US')} ${names.from} in the ${plural(minutes, 'settled minute')} of this stage (${clock(from, false)}–${clock(through)}); ${need}${more}${enough}`;
}

/** "10:04 UTC", or "10:04" for the start of a range (UTC from the ISO form: date-fns formats in local time). */
const clock = (at: Date, zone = true) => `${at.toISOString().slice(11, 16)}${zone ? ' UTC' : ''}`;

/**
 * The checklist's sentence for the sequential comparison:
 *   "Runware not worse than FAL on failures (margin 1 pp): +0.1 pp [−0.6, +0.8]"
 *   "Runware worse than FAL on latency: 1.25× [1.08, 1.44]"
 *   "Runware vs FAL on failures inconclusive: about 1,200 more Runware requests, ~33m at the current rate"
 */
export function verdictText(r: SequentialResult, metric: Metric, names: Names, ctx: VerdictContext = {}): string {
  const nums = estimateText(r, metric);
  const more =
    r.moreRunware === null
      ? ''
      : `about ${r.moreRunware.toLocaleString('en-US')} more ${names.to} requests${timeText(r.moreRunware, ctx.runwarePerMinute ?? null)}`;
  switch (r.verdict) {
    case 'not_worse':
      return `${names.to} not worse than ${names.from} on ${metric} (margin ${marginText(r, metric)}): ${nums}`;
    case 'worse':
      return `${names.to} worse than ${names.from} on ${metric}: ${nums}`;
    case 'inconclusive':
      return `${names.to} vs ${names.from} on ${metric} inconclusive (margin ${marginText(r, metric)}): ${nums}${more ? `; ${more}` : ''}`;
    case 'too_few':
      return tooFewText(r, metric, names, ctx);
  }
}

/**
 * The sentence every breach and rollback alert adds when FAL breaches the same red line:
 * "FAL is at 9.10 s too: the cause is probably shared — network, database, the app — and rolling back may not help."
 */
export function sharedBreachText(line: SharedBreachLine, names: Names, onSharedBreach: OnSharedBreach): string {
  const base = `${names.from} is at ${formatValue(line.name, line.fromValue, line.threshold)} too: the cause is probably shared — network, database, the app — and rolling back may not help`;
  return onSharedBreach === 'hold'
    ? `${base}. The plan holds instead of rolling back (onSharedBreach: "hold"); roll back by hand if ${names.to} is still to blame.`
    : `${base}. The plan rolls back all the same (onSharedBreach: "rollback").`;
}

// --- what the checklist, status, reports and alerts show, from a judged evaluation ---------------

const namesOf = (plan: Plan): Names => ({ to: plan.providerNames[plan.to], from: plan.providerNames[plan.from] });

/** This red line's comparison in words ("failures +0.4 pp [−0.1, +0.9]"), or null when the judge gave none. */
function versusText(plan: Plan, line: LineEvaluation): string | null {
  const v = line.versus;
  if (!v) return null;
  switch (v.kind) {
    case 'failures':
      return failureText(v.comparison);
    case 'p95':
      return p95Text(v.comparison, namesOf(plan));
    case 'cost':
      return costText(v.comparison, namesOf(plan));
    case 'vouchers':
      return voucherText(v.comparison, plan.stages[0].name.toUpperCase());
  }
}

/** "Runware vs FAL: failures +0.4 pp [−0.1, +0.9] · p95 1.12× FAL [0.98, 1.30] · …", or null. */
export function versusSummary(plan: Plan, lines: LineEvaluation[]): string | null {
  // Nothing to compare yet (no traffic, no stage) is not news: the red lines already say no data.
  if (!lines.some((l) => l.versus?.comparison.ok)) return null;
  const parts = lines.map((l) => versusText(plan, l)).filter((t): t is string => t !== null);
  return versusLine(namesOf(plan), parts);
}

/** The shared-cause sentence for a red line FAL breaches too, or null. */
const sharedText = (plan: Plan, line: LineEvaluation): string | null =>
  line.shared ? sharedBreachText(line, namesOf(plan), plan.onSharedBreach) : null;

/** How a front end dresses the judged lines: its indent, its escaping, how it stresses the shared cause. */
export interface Dress {
  indent: string;
  esc: (text: string) => string;
  stress: (text: string) => string;
}

/**
 * An alert's comparison with FAL and, when FAL breaches too, the shared-cause sentence: the lines
 * every front end shows under a red line's alert, in its own dress.
 */
export function judged(plan: Plan, line: LineEvaluation, dress: Dress): string[] {
  const versus = versusText(plan, line);
  const shared = sharedText(plan, line);
  const names = namesOf(plan);
  return [
    ...(versus ? [`${dress.indent}${names.to} vs ${names.from}: ${dress.esc(versus)}`] : []),
    ...(shared ? [`${dress.indent}${dress.stress(dress.esc(shared))}`] : []),
  ];
}

/**
 * The stage's two always-valid verdicts, as sentences. `live` (requests per minute per provider
 * in the status's traffic window) says when a stage with nothing counted yet will have enough.
 */
export function verdictSentences(plan: Plan, v: StageVerdicts | null, live: VerdictContext['live'] = null): string[] {
  if (!v) return [];
  const ctx: VerdictContext = { runwarePerMinute: v.runwarePerMinute, counted: v.counted, minSamples: plan.compare.minSamples, live };
  return [verdictText(v.failures, 'failures', namesOf(plan), ctx), verdictText(v.latency, 'latency', namesOf(plan), ctx)];
}

/** Requests per minute per provider in the status's traffic window: when a stage with nothing counted yet will have enough. */
export function liveRates(plan: Plan, split: StatusView['split']): VerdictContext['live'] {
  const minutes = split.windowMs / MINUTE;
  return minutes > 0 ? { to: (split.counts[plan.to] ?? 0) / minutes, from: (split.counts[plan.from] ?? 0) / minutes } : null;
}
