import type { Plan, RedLineName } from '../plan/plan.ts';
import { RED_LINES } from '../plan/plan.ts';
import { advanceClocks, emptyClocks } from './breach-clock.ts';
import { emptyStats, type MetricsSnapshot, type ProviderStats } from './metrics.ts';
import { divideLikePostgres, type Decimal } from './decimal.ts';
import { addExact, emptyRouteSums, type RouteSums } from './sums.ts';
import { evaluateRedLines, type LineEvaluation, type LineState } from './red-lines.ts';
import { sharedBreach } from './compare/shared-breach.ts';

/**
 * History as fixed buckets [start, start + stepMs) of `stepMs` (the plan's evaluateEvery, or a
 * divisor of every window), read with the guard's own definitions (src/db/metric-sums.ts). A
 * window [t − w, t] ends on a bucket boundary: it is the whole buckets [t − w, t) plus the rows
 * exactly at t, which each bucket keeps apart (`atStart`: rows sitting on its first instant), so
 * the edges are the guard's. Sums only: every red line but p95 is a ratio of sums (cost sums
 * exact, as the guard adds them), and for p95 the bucket keeps how many latencies reached the
 * threshold, which decides the verdict exactly (see p95Verdict).
 */
export interface ProviderSeries {
  requests: number[];
  failures: number[];
  latencySamples: number[];
  latencyAtOrAbove: number[];
  /** The largest latency under the p95 threshold, and the smallest at or above it (NaN: none). */
  latencyBelowMax: number[];
  latencyAboveMin: number[];
  costSum: (Decimal | null)[];
  costSamples: number[];
  costSkipped: number[];
}

/** The rows exactly at a bucket's start: each provider's sums, and the other counts. */
export interface EdgeSums {
  from: RouteSums;
  to: RouteSums;
  otherRequests: number;
  vouchers: number;
  genOk: number;
}

export const emptyEdge = (): EdgeSums => ({ from: emptyRouteSums(), to: emptyRouteSums(), otherRequests: 0, vouchers: 0, genOk: 0 });

export interface BucketSeries {
  startMs: number;
  stepMs: number;
  length: number;
  from: ProviderSeries;
  to: ProviderSeries;
  otherRequests: number[];
  vouchers: number[];
  genOk: number[];
  /** Rows exactly at bucket i's start (i may be `length`: the series' end), where there are any. */
  atStart: Map<number, EdgeSums>;
}

const emptyProviderSeries = (n: number): ProviderSeries => ({
  requests: Array(n).fill(0),
  failures: Array(n).fill(0),
  latencySamples: Array(n).fill(0),
  latencyAtOrAbove: Array(n).fill(0),
  latencyBelowMax: Array(n).fill(Number.NaN),
  latencyAboveMin: Array(n).fill(Number.NaN),
  costSum: Array(n).fill(null),
  costSamples: Array(n).fill(0),
  costSkipped: Array(n).fill(0),
});

export const emptySeries = (startMs: number, stepMs: number, length: number): BucketSeries => ({
  startMs,
  stepMs,
  length,
  from: emptyProviderSeries(length),
  to: emptyProviderSeries(length),
  otherRequests: Array(length).fill(0),
  vouchers: Array(length).fill(0),
  genOk: Array(length).fill(0),
  atStart: new Map(),
});

/** The bucket size that tiles evaluateEvery and every window exactly. */
export function bucketMs(plan: Plan): number {
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  return [plan.evaluateEveryMs, plan.trafficWindowMs, ...RED_LINES.map((n) => plan.redLines[n].windowMs)].reduce(gcd);
}

/** Prefix sums, so a window is two lookups whatever its length. */
class Prefix {
  private readonly p: Float64Array;
  constructor(values: number[]) {
    this.p = new Float64Array(values.length + 1);
    for (let i = 0; i < values.length; i++) this.p[i + 1] = this.p[i] + values[i];
  }
  /** Sum of buckets [from, to), clipped to the series. */
  sum(from: number, to: number): number {
    const a = Math.max(0, Math.min(from, this.p.length - 1));
    const b = Math.max(0, Math.min(to, this.p.length - 1));
    return this.p[b] - this.p[a];
  }
}

/** Exact prefix sums of decimals (BigInt at the largest scale); a window keeps its own display scale, as SUM(numeric) does. */
class ExactPrefix {
  private readonly p: bigint[];
  private readonly scale: number;
  constructor(private readonly values: (Decimal | null)[]) {
    this.scale = Math.max(0, ...values.map((v) => v?.scale ?? 0));
    this.p = [0n];
    for (const [i, v] of values.entries()) this.p.push(this.p[i] + (v ? v.units * 10n ** BigInt(this.scale - v.scale) : 0n));
  }
  sum(from: number, to: number): Decimal | null {
    const a = Math.max(0, Math.min(from, this.values.length));
    const b = Math.max(0, Math.min(to, this.values.length));
    let scale = -1;
    for (let k = a; k < b; k++) if (this.values[k] && this.values[k]!.scale > scale) scale = this.values[k]!.scale;
    if (scale < 0) return null;
    return { units: (this.p[b] - this.p[a]) / 10n ** BigInt(this.scale - scale), scale };
  }
}

type Prefixed<T> = { [K in keyof T]: Prefix };
const prefixed = <T extends Record<string, unknown[]>>(s: T) =>
  Object.fromEntries(
    Object.entries(s)
      .filter(([k]) => k !== 'costSum')
      .map(([k, v]) => [k, new Prefix((v as number[]).map((x) => (Number.isNaN(x) ? 0 : x)))]),
  ) as Prefixed<T>;

/**
 * p95 ≥ threshold, decided from two counts. PERCENTILE_CONT(0.95) interpolates between the
 * sorted values at positions floor(p) and ceil(p), p = 0.95 (n − 1); with `below` values under
 * the threshold, both positions are at or above it (breach), or both under it (ok), unless the
 * threshold falls exactly between them ("ambiguous"): then those two values are the largest one
 * under the threshold and the smallest one at or above it, which the buckets also keep.
 */
export function p95Verdict(samples: number, atOrAbove: number): 'breach' | 'ok' | 'ambiguous' | 'none' {
  if (samples === 0) return 'none';
  const p = 0.95 * (samples - 1);
  const below = samples - atOrAbove;
  if (Math.floor(p) >= below) return 'breach';
  if (Math.ceil(p) < below) return 'ok';
  return 'ambiguous';
}

export class SeriesWindows {
  private readonly from: Prefixed<ProviderSeries>;
  private readonly to: Prefixed<ProviderSeries>;
  private readonly fromCost: ExactPrefix;
  private readonly toCost: ExactPrefix;
  private readonly other: Prefix;
  private readonly vouchers: Prefix;
  private readonly genOk: Prefix;

  constructor(
    readonly plan: Plan,
    readonly series: BucketSeries,
  ) {
    this.from = prefixed(series.from as unknown as Record<string, unknown[]>) as unknown as Prefixed<ProviderSeries>;
    this.to = prefixed(series.to as unknown as Record<string, unknown[]>) as unknown as Prefixed<ProviderSeries>;
    this.fromCost = new ExactPrefix(series.from.costSum);
    this.toCost = new ExactPrefix(series.to.costSum);
    this.other = new Prefix(series.otherRequests);
    this.vouchers = new Prefix(series.vouchers);
    this.genOk = new Prefix(series.genOk);
  }

  /** The evaluation time that closes bucket i (the start of bucket i + 1). */
  timeAt(i: number): number {
    return this.series.startMs + (i + 1) * this.series.stepMs;
  }

  /**
   * The candidate's p95 over buckets [a, b) plus the edge rows: exact when the threshold falls
   * between the interpolation points, else a stand-in with the same verdict (the threshold, or
   * just under it). The report reads the exact value where it shows one.
   */
  private p95At(a: number, b: number, edge: RouteSums): number | null {
    const samples = this.to.latencySamples.sum(a, b) + edge.latencySamples;
    const verdict = p95Verdict(samples, this.to.latencyAtOrAbove.sum(a, b) + edge.atOrAbove);
    const threshold = this.plan.redLines.p95LatencyMs.threshold;
    if (verdict === 'none') return null;
    if (verdict === 'breach') return threshold;
    if (verdict === 'ok') return threshold * (1 - 1e-9);
    let below = Number.isNaN(edge.belowMax) ? -Infinity : edge.belowMax;
    let above = Number.isNaN(edge.aboveMin) ? Infinity : edge.aboveMin;
    for (let k = Math.max(0, a); k < Math.min(b, this.series.length); k++) {
      if (this.series.to.latencyBelowMax[k] > below) below = this.series.to.latencyBelowMax[k];
      if (this.series.to.latencyAboveMin[k] < above) above = this.series.to.latencyAboveMin[k];
    }
    const p = 0.95 * (samples - 1);
    return below + (p - Math.floor(p)) * (above - below);
  }

  /** The guard's snapshot at the end of bucket i, [t − window, t] for each window, built from sums. */
  snapshotAt(i: number): MetricsSnapshot {
    const { plan, series } = this;
    const end = new Date(this.timeAt(i));
    const edge = series.atStart.get(i + 1) ?? emptyEdge();
    const windows = [...new Set([...RED_LINES.map((n) => plan.redLines[n].windowMs), plan.trafficWindowMs])];
    const stats = (s: Prefixed<ProviderSeries>, cost: ExactPrefix, e: RouteSums, a: number, b: number, withP95: boolean): ProviderStats => {
      const costSamples = s.costSamples.sum(a, b) + e.costSamples;
      const latencySamples = s.latencySamples.sum(a, b) + e.latencySamples;
      const requests = s.requests.sum(a, b) + e.requests;
      const p95 = withP95 ? this.p95At(a, b, e) : null;
      const costSum = addExact(cost.sum(a, b), e.costSum);
      return {
        requests,
        failures: s.failures.sum(a, b) + e.failures,
        latencySamples,
        latencySkipped: requests - latencySamples,
        p95LatencyMs: p95,
        costSamples,
        costSkipped: s.costSkipped.sum(a, b) + e.costSkipped,
        avgCostPerImage: costSamples && costSum ? Number(divideLikePostgres(costSum, costSamples)) : null,
      };
    };
    const routes = windows.map((windowMs) => {
      const a = i + 1 - windowMs / series.stepMs;
      const withP95 = windowMs === plan.redLines.p95LatencyMs.windowMs;
      const providers: Record<string, ProviderStats> = {
        [plan.from]: stats(this.from, this.fromCost, edge.from, a, i + 1, false),
        [plan.to]: stats(this.to, this.toCost, edge.to, a, i + 1, withP95),
      };
      const other = this.other.sum(a, i + 1) + edge.otherRequests;
      if (other) providers.other = { ...emptyStats(), requests: other, latencySkipped: other };
      return { windowMs, end, providers };
    });
    const vw = plan.redLines.regenerateRatePercent.windowMs;
    const a = i + 1 - vw / series.stepMs;
    return {
      at: end,
      routes,
      vouchers: [
        { windowMs: vw, end, vouchers: this.vouchers.sum(a, i + 1) + edge.vouchers, genOk: this.genOk.sum(a, i + 1) + edge.genOk },
      ],
    };
  }
}

interface BacktestLineSummary {
  states: Record<LineState, number>;
  breachEpisodes: number;
  longestBreachMs: number;
  firstBreachAt: string | null;
}

interface WouldRollBack {
  at: string;
  line: LineEvaluation;
  breachSince: string;
  heldMs: number;
  /** `from` was in breach of the same red line in the same window: a shared cause, reported apart. */
  shared: boolean;
}

export interface BacktestResult {
  from: string;
  to: string;
  stepMs: number;
  evaluations: number;
  baselineCost: number | null;
  baselineNote: string;
  lines: Record<RedLineName, BacktestLineSummary>;
  /** In order; after each one the clocks restart, as a fresh D1 would. */
  rollbacks: WouldRollBack[];
}

/**
 * Replays the guard over history: the same evaluator (evaluateRedLines) and the same `for`
 * clocks (advanceClocks) the guard uses, at every evaluateEvery from `first` to the end.
 */
export function replay(windows: SeriesWindows, first: number, baselineCost: number | null, baselineNote: string): BacktestResult {
  const { plan, series } = windows;
  const lines = Object.fromEntries(
    RED_LINES.map((n) => [
      n,
      { states: { ok: 0, breach: 0, no_data: 0, error: 0 }, breachEpisodes: 0, longestBreachMs: 0, firstBreachAt: null },
    ]),
  ) as Record<RedLineName, BacktestLineSummary>;
  const rollbacks: WouldRollBack[] = [];
  const every = plan.evaluateEveryMs / series.stepMs;
  let clocks = emptyClocks();
  let evaluations = 0;
  const open: Partial<Record<RedLineName, number>> = {};
  for (let i = first; i < series.length; i += every) {
    const now = new Date(windows.timeAt(i));
    const evals = evaluateRedLines(plan, windows.snapshotAt(i), baselineCost);
    // Weight 0: history does not know the weights, so no "no traffic" alerts are invented.
    const step = advanceClocks(plan, clocks, evals, now, 0);
    clocks = step.clocks;
    evaluations++;
    for (const e of evals) {
      const s = lines[e.name];
      s.states[e.state]++;
      if (e.state === 'breach' && open[e.name] === undefined) {
        open[e.name] = now.getTime();
        s.breachEpisodes++;
        s.firstBreachAt ??= now.toISOString();
      }
      if (e.state !== 'breach' && e.state !== 'error' && open[e.name] !== undefined) {
        s.longestBreachMs = Math.max(s.longestBreachMs, now.getTime() - open[e.name]!);
        delete open[e.name];
      }
    }
    if (step.fired.length) {
      const f = step.fired[0];
      rollbacks.push({
        at: now.toISOString(),
        line: f.line,
        breachSince: f.breachSince,
        heldMs: f.heldMs,
        shared: sharedBreach(plan, f.line),
      });
      clocks = emptyClocks();
    }
  }
  const end = windows.timeAt(series.length - 1);
  for (const [name, since] of Object.entries(open))
    lines[name as RedLineName].longestBreachMs = Math.max(lines[name as RedLineName].longestBreachMs, end - since!);
  return {
    from: new Date(windows.timeAt(first) - plan.evaluateEveryMs).toISOString(),
    to: new Date(end).toISOString(),
    stepMs: plan.evaluateEveryMs,
    evaluations,
    baselineCost,
    baselineNote,
    lines,
    rollbacks,
  };
}
