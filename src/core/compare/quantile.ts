import { binomCdf, binomQuantile, checkConfidence, zFor, normalQuantileStd } from './distributions.ts';
import { checkCount, comparison, noComparison, type Comparison } from './interval.ts';

const Q = 0.95;

/** The two order statistics that bracket a provider's true p95 at the given confidence. */
export interface RankPlan {
  n: number;
  /** 1-based ranks in the window's latencies sorted ascending. */
  lower: number;
  upper: number;
  /** Exact probability that [x(lower), x(upper)] holds the true p95 (≥ confidence). */
  coverage: number;
  /** Fractions that make Postgres' percentile_disc return exactly these ranks: (rank − 0.5) / n. */
  fractions: [number, number];
}

/**
 * Which sorted latencies the read must fetch for a distribution-free p95 interval: the count of
 * rows below the true p95 is Binomial(n, 0.95), so [x(l), x(u)] covers it with probability
 * P(l ≤ B ≤ u − 1), whatever the shape of the latencies. Null when n is too small for an upper
 * rank to exist: at 0.95, fewer than 72 rows cannot bound the p95 from above.
 */
export function p95RankPlan(n: number, confidence = 0.95): RankPlan | null {
  checkCount('n', n);
  checkConfidence(confidence);
  if (n === 0) return null;
  const tail = (1 - confidence) / 2;
  const lower = binomQuantile(tail, n, Q);
  const upper = binomQuantile(1 - tail, n, Q) + 1;
  if (lower < 1 || upper > n) return null;
  const coverage = binomCdf(upper - 1, n, Q) - binomCdf(lower - 1, n, Q);
  return { n, lower, upper, coverage, fractions: [(lower - 0.5) / n, (upper - 0.5) / n] };
}

/** One provider's latencies in the window, as the read provides them. */
export interface P95Sample {
  /** Latency rows counted. */
  n: number;
  /** The point estimate, percentile_cont(0.95) as the red line computes it. */
  p95: number;
  /** x(lower) and x(upper), the sorted latencies at the ranks p95RankPlan(n) names. */
  lower: number;
  upper: number;
}

/**
 * Runware's p95 over FAL's with an interval, by the order-statistic method of Price and Bonett
 * (2002, for medians) carried to the 95th percentile: each provider's distribution-free
 * interval for its p95 gives the standard error of its log, and the two combine on the log
 * scale. Chosen over a bootstrap (needs every row, and is slow and noisy in the tail) and over
 * a rank test (answers "is one faster overall", not "is the tail the red line watches longer").
 */
export function p95Ratio(runware: P95Sample, fal: P95Sample, confidence = 0.95): Comparison {
  const seR = logStandardError(runware, confidence);
  const seF = logStandardError(fal, confidence);
  if (typeof seR === 'string') return noComparison(`Runware: ${seR}`);
  if (typeof seF === 'string') return noComparison(`FAL: ${seF}`);
  const logRatio = Math.log(runware.p95 / fal.p95);
  const half = zFor(confidence) * Math.hypot(seR, seF);
  return comparison({ estimate: Math.exp(logRatio), lower: Math.exp(logRatio - half), upper: Math.exp(logRatio + half), confidence });
}

function logStandardError(s: P95Sample, confidence: number): number | string {
  const plan = p95RankPlan(s.n, confidence);
  if (!plan) return `${s.n} latencies are too few to bound a p95`;
  if (!(s.lower > 0 && s.p95 > 0 && s.upper >= s.lower))
    return `latencies must be positive and ordered (got ${s.lower} ≤ ${s.p95} ≤ ${s.upper})`;
  // The interval's exact coverage, not the nominal one, sets how many standard errors it spans.
  const zc = normalQuantileStd(1 - (1 - plan.coverage) / 2);
  return (Math.log(s.upper) - Math.log(s.lower)) / (2 * zc);
}

/** A P95Sample from a provider's latencies sorted ascending (reads that keep rows, and tests). */
export function p95SampleOf(sorted: ArrayLike<number>, confidence = 0.95): P95Sample | null {
  const plan = p95RankPlan(sorted.length, confidence);
  if (!plan) return null;
  return { n: sorted.length, p95: percentileCont(sorted, Q), lower: sorted[plan.lower - 1], upper: sorted[plan.upper - 1] };
}

/** Postgres' percentile_cont: linear interpolation between the ranks around (n − 1)·q. */
export function percentileCont(sorted: ArrayLike<number>, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
