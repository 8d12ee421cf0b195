import type { Plan, RedLineName } from '../plan/plan.ts';
import { RED_LINES } from '../plan/plan.ts';
import { advanceClocks, emptyClocks } from './breach-clock.ts';
import type { SeriesWindows } from './backtest.ts';
import { p95Of, type BucketHistograms } from './latency-histogram.ts';
import { evaluateRedLines, type LineState } from './red-lines.ts';

/** One evaluation of one red line, as a chart shows it. */
interface ChartPoint {
  atMs: number;
  /** The candidate's value (the verdict's); for the voucher rate, all traffic's. null: no data. */
  candidate: number | null;
  /** The incumbent's value, for comparison (none for the voucher rate). */
  incumbent: number | null;
  state: LineState;
}

interface BreachPeriod {
  fromMs: number;
  /** The first evaluation out of breach, or the chart's end while it still holds. */
  toMs: number;
  /** When the breach had held for the whole `for` (the guard fires), if it did. */
  firedAtMs: number | null;
}

export interface LineSeries {
  name: RedLineName;
  threshold: number;
  windowMs: number;
  forMs: number;
  points: ChartPoint[];
  breaches: BreachPeriod[];
  /** A breach still open at the end: how long it has held, of `for`. */
  held: { sinceMs: number; heldMs: number } | null;
}

export interface ChartSeries {
  fromMs: number;
  toMs: number;
  lines: Record<RedLineName, LineSeries>;
}

export interface Histograms {
  from: BucketHistograms;
  to: BucketHistograms;
}

/**
 * Every evaluation from bucket `first` on, with the guard's evaluator and `for` clocks (as the
 * backtest replays them). States are the guard's exactly. Values are too, except p95, which
 * comes from the latency histograms (±1 %) and is kept on the verdict's side of the threshold,
 * so a point never contradicts its own state. resetOnFire: clocks restart after a rollback
 * fires, as in the backtest; a stage report leaves them running.
 */
export function chartSeries(
  windows: SeriesWindows,
  histograms: Histograms,
  first: number,
  baselineCost: number | null,
  resetOnFire = false,
): ChartSeries {
  const { plan, series } = windows;
  const every = plan.evaluateEveryMs / series.stepMs;
  const p95Buckets = plan.redLines.p95LatencyMs.windowMs / series.stepMs;
  const lines = Object.fromEntries(RED_LINES.map((n) => [n, emptyLine(plan, n)])) as Record<RedLineName, LineSeries>;
  let clocks = emptyClocks();
  let lastMs = windows.timeAt(first);
  for (let i = first; i < series.length; i += every) {
    const atMs = windows.timeAt(i);
    lastMs = atMs;
    const evals = evaluateRedLines(plan, windows.snapshotAt(i), baselineCost);
    const step = advanceClocks(plan, clocks, evals, new Date(atMs), 0);
    clocks = resetOnFire && step.fired.length ? emptyClocks() : step.clocks;
    for (const e of evals) {
      const line = lines[e.name];
      let candidate = e.state === 'ok' || e.state === 'breach' ? e.value : null;
      let incumbent = e.fromValue;
      if (e.name === 'p95LatencyMs') {
        incumbent = p95Of(histograms.from, i + 1 - p95Buckets, i + 1);
        if (candidate !== null)
          candidate = onVerdictSide(p95Of(histograms.to, i + 1 - p95Buckets, i + 1) ?? candidate, e.threshold, e.state === 'breach');
      }
      line.points.push({ atMs, candidate, incumbent, state: e.state });
      const open = line.breaches.at(-1);
      const isOpen = open !== undefined && open.toMs === Number.POSITIVE_INFINITY;
      if (e.state === 'breach' && !isOpen) line.breaches.push({ fromMs: atMs, toMs: Number.POSITIVE_INFINITY, firedAtMs: null });
      // An error neither ends nor extends a breach, as on the guard's clocks.
      if ((e.state === 'ok' || e.state === 'no_data') && isOpen) open.toMs = atMs;
      const current = line.breaches.at(-1);
      if (
        current &&
        current.toMs === Number.POSITIVE_INFINITY &&
        current.firedAtMs === null &&
        step.fired.some((f) => f.line.name === e.name)
      )
        current.firedAtMs = atMs;
    }
  }
  for (const line of Object.values(lines)) {
    const open = line.breaches.at(-1);
    if (open && open.toMs === Number.POSITIVE_INFINITY) {
      open.toMs = lastMs;
      line.held = { sinceMs: open.fromMs, heldMs: lastMs - open.fromMs };
    }
  }
  return { fromMs: windows.timeAt(first) - plan.evaluateEveryMs, toMs: lastMs, lines };
}

const emptyLine = (plan: Plan, name: RedLineName): LineSeries => ({
  name,
  threshold: plan.redLines[name].threshold,
  windowMs: plan.redLines[name].windowMs,
  forMs: plan.redLines[name].forMs,
  points: [],
  breaches: [],
  held: null,
});

/** p95 breaches at ≥ threshold: keep an estimate within its ±1 % on the side the exact verdict took. */
function onVerdictSide(value: number, threshold: number, breach: boolean): number {
  if (breach) return Math.max(value, threshold);
  return value >= threshold ? threshold * 0.999 : value;
}

/** The part of a line between two times (an alert's window), breaches clipped to it. */
export function sliceLine(line: LineSeries, fromMs: number, toMs: number): LineSeries {
  return {
    ...line,
    points: line.points.filter((p) => p.atMs >= fromMs && p.atMs <= toMs),
    breaches: line.breaches
      .filter((b) => b.toMs >= fromMs && b.fromMs <= toMs)
      .map((b) => ({ ...b, fromMs: Math.max(b.fromMs, fromMs), toMs: Math.min(b.toMs, toMs) })),
  };
}
