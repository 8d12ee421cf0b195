import { checkConfidence } from './distributions.ts';
import { checkCount } from './interval.ts';
import type { Proportion } from './proportions.ts';

/*
 * An always-valid comparison of Runware against FAL over the current stage, checked at every
 * evaluation without inflating false alarms: a normal-mixture confidence sequence (Robbins'
 * mixture, the mSPRT of Johari, Pekelis & Walsh 2017; the asymptotic form of Waudby-Smith et
 * al. 2024). For an estimate d̂ with variance v the sequence is
 *
 *   d̂ ± √( v(τ² + v)/τ² · ln((τ² + v) / (v·α²)) ),
 *
 * and with probability ≥ 1 − α it holds the true difference at every look at once, however
 * often one looks. τ is the spread of the mixture: we set it to the margin, so the test is
 * sharpest for differences about the size of the margin. The guarantee is asymptotic (it
 * leans on the central limit theorem for the estimate), which is why a minimum sample applies.
 */

type Verdict = 'not_worse' | 'worse' | 'inconclusive' | 'too_few';

export interface SequentialResult {
  verdict: Verdict;
  /** Runware − FAL in pp (failures), or Runware / FAL as a ratio (latency). */
  estimate: number;
  lower: number;
  upper: number;
  /** Same unit as the estimate: pp, or a ratio like 1.1. */
  margin: number;
  confidence: number;
  runwareSamples: number;
  falSamples: number;
  /** Inconclusive or too few: about how many more Runware requests should settle it, at the current split and estimate; null when it cannot be told. */
  moreRunware: number | null;
}

interface SequentialOptions {
  confidence: number;
  /** Minimum rows per provider before any verdict. */
  minSamples: number;
}

/** Half-width of the confidence sequence for an estimate of variance v. */
export function sequenceHalfWidth(v: number, tau: number, alpha: number): number {
  if (v <= 0) return 0;
  if (!Number.isFinite(v)) return Infinity;
  const t2 = tau * tau;
  return Math.sqrt(((v * (t2 + v)) / t2) * Math.log((t2 + v) / (v * alpha * alpha)));
}

interface Difference {
  /** On the scale the sequence runs on: a fraction, or a difference of mean logs. */
  d: number;
  v: number;
  /** The variance once k times the current data are in, at the current rates. */
  vAt: (k: number) => number;
  margin: number;
  nR: number;
  nF: number;
}

/**
 * The verdicts, in this order: not_worse when the whole sequence is below the margin (Runware
 * is no worse than FAL by more than the margin, even if slightly worse); worse when it is wholly
 * above 0 and not below the margin (Runware is worse beyond chance, and by possibly more than
 * the margin); inconclusive otherwise. "Worse" is judged against 0 rather than the margin so a
 * real regression is named as soon as it is shown, not only once it is shown to be large.
 */
function judge(x: Difference, o: SequentialOptions): { verdict: Verdict; lo: number; hi: number; moreRunware: number | null } {
  checkConfidence(o.confidence);
  const alpha = 1 - o.confidence;
  const tau = x.margin;
  const h = sequenceHalfWidth(x.v, tau, alpha);
  const lo = x.d - h;
  const hi = x.d + h;
  if (x.nR < o.minSamples || x.nF < o.minSamples) {
    const short = Math.max(o.minSamples - x.nR, x.nF > 0 ? Math.ceil(((o.minSamples - x.nF) * x.nR) / x.nF) : Infinity);
    return { verdict: 'too_few', lo, hi, moreRunware: Number.isFinite(short) && x.nR > 0 ? Math.max(short, 0) : null };
  }
  if (hi < x.margin) return { verdict: 'not_worse', lo, hi, moreRunware: null };
  if (lo > 0) return { verdict: 'worse', lo, hi, moreRunware: null };
  return { verdict: 'inconclusive', lo, hi, moreRunware: moreNeeded(x, tau, alpha) };
}

/**
 * How many more Runware requests (FAL growing with them at the current split) until the
 * sequence, shrinking around the current estimate, clears the nearer of its two goals. A
 * guide, not a promise: the estimate moves as data come in.
 */
function moreNeeded(x: Difference, tau: number, alpha: number): number | null {
  const gap = Math.max(x.margin - x.d, x.d);
  if (sequenceHalfWidth(x.vAt(1), tau, alpha) < gap) return 0;
  let hiK = 2;
  while (sequenceHalfWidth(x.vAt(hiK), tau, alpha) >= gap) {
    hiK *= 2;
    if (hiK > 1e7) return null;
  }
  let loK = hiK / 2;
  // "About N" needs no more than half a percent of precision.
  while (hiK - loK > 0.005 * hiK) {
    const mid = (loK + hiK) / 2;
    if (sequenceHalfWidth(x.vAt(mid), tau, alpha) >= gap) loK = mid;
    else hiK = mid;
  }
  return Math.ceil(x.nR * (hiK - 1));
}

export interface FailureSequentialOptions extends SequentialOptions {
  /** Largest tolerated excess of Runware's failure rate over FAL's, in pp. */
  marginPp: number;
}

/**
 * Failures since the stage began, per provider: failures and requests (sums of the buckets).
 * The variance uses (failures + 1)/(requests + 2) so that 0 failures on both sides does not
 * claim perfect certainty.
 */
export function failureSequential(runware: Proportion, fal: Proportion, o: FailureSequentialOptions): SequentialResult {
  for (const p of [runware, fal]) {
    checkCount('requests', p.trials);
    checkCount('failures', p.events);
    if (p.events > p.trials) throw new RangeError(`failures (${p.events}) cannot exceed requests (${p.trials})`);
  }
  if (!(o.marginPp > 0)) throw new RangeError(`the failure margin must be a positive number of pp (got ${o.marginPp})`);
  const vAt = (k: number) => varianceOfRate(scaled(runware, k)) + varianceOfRate(scaled(fal, k));
  const x = { d: rateOf(runware) - rateOf(fal), v: vAt(1), vAt, margin: o.marginPp / 100, nR: runware.trials, nF: fal.trials };
  const r = judge(x, o);
  return result(r, x, o, 100 * x.d, 100 * r.lo, 100 * r.hi, o.marginPp);
}

/** One provider's latencies since the stage began: count, Σ ln(ms), Σ ln(ms)². Additive per bucket. */
export interface LogMoments {
  n: number;
  sumLog: number;
  sumLogSquares: number;
}

export interface LatencySequentialOptions extends SequentialOptions {
  /** Largest tolerated ratio of Runware's typical latency to FAL's, like 1.1. */
  marginRatio: number;
}

/**
 * Latency as Runware's geometric-mean latency over FAL's (the difference of mean logs,
 * exponentiated): the typical request, not the tail. The tail is the p95 red line's job; a
 * sequential test of a p95 would need the rows, while mean logs add up per bucket, and the log
 * tames the rare very slow request that would swamp a plain mean.
 */
export function latencySequential(runware: LogMoments, fal: LogMoments, o: LatencySequentialOptions): SequentialResult {
  for (const m of [runware, fal]) checkCount('latency rows', m.n);
  if (!(o.marginRatio > 1)) throw new RangeError(`the latency margin must be a ratio above 1, like 1.1 (got ${o.marginRatio})`);
  const v = varianceOfMeanLog(runware) + varianceOfMeanLog(fal);
  const x = { d: meanLog(runware) - meanLog(fal), v, vAt: (k: number) => v / k, margin: Math.log(o.marginRatio), nR: runware.n, nF: fal.n };
  const r = judge(x, o);
  return result(r, x, o, Math.exp(x.d), Math.exp(r.lo), Math.exp(r.hi), o.marginRatio);
}

// Plain module-level functions and literal objects, no closures or spreads: this runs at every
// evaluation and about a million times in the simulations, where spreads cost 100× the maths.
function result(
  r: ReturnType<typeof judge>,
  x: Difference,
  o: SequentialOptions,
  estimate: number,
  lower: number,
  upper: number,
  margin: number,
): SequentialResult {
  return {
    verdict: r.verdict,
    estimate,
    lower,
    upper,
    margin,
    confidence: o.confidence,
    runwareSamples: x.nR,
    falSamples: x.nF,
    moreRunware: r.moreRunware,
  };
}

function rateOf(p: Proportion): number {
  return p.trials ? p.events / p.trials : 0;
}

/** Variance of a rate, from (events + 1)/(trials + 2) so that 0 events does not mean certainty. */
function varianceOfRate(p: Proportion): number {
  if (!p.trials) return Infinity;
  const s = (p.events + 1) / (p.trials + 2);
  return (s * (1 - s)) / p.trials;
}

/** k times the requests at the same rate (fractional counts are fine for a projection). */
function scaled(p: Proportion, k: number): Proportion {
  return { events: p.events * k, trials: p.trials * k };
}

function meanLog(m: LogMoments): number {
  return m.n ? m.sumLog / m.n : 0;
}

function varianceOfMeanLog(m: LogMoments): number {
  if (m.n < 2) return Infinity;
  return Math.max(0, (m.sumLogSquares - (m.sumLog * m.sumLog) / m.n) / (m.n - 1)) / m.n;
}

/** Log moments of a list of latencies in ms (reads that keep rows, and tests). */
export function logMomentsOf(latencies: ArrayLike<number>): LogMoments {
  let sumLog = 0;
  let sumLogSquares = 0;
  for (let i = 0; i < latencies.length; i++) {
    const l = Math.log(latencies[i]);
    sumLog += l;
    sumLogSquares += l * l;
  }
  return { n: latencies.length, sumLog, sumLogSquares };
}
