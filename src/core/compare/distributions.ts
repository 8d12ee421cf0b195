import binomialCdf from '@stdlib/stats-base-dists-binomial-cdf';
import binomialQuantile from '@stdlib/stats-base-dists-binomial-quantile';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';

/*
 * The only distribution functions the comparison uses, from stdlib (maintained, typed, pure JS,
 * no install scripts) rather than hand-written approximations.
 */

/** The two-sided critical value: 1.96 for 0.95. */
export function zFor(confidence: number): number {
  checkConfidence(confidence);
  return normalQuantile(1 - (1 - confidence) / 2, 0, 1);
}

export const normalQuantileStd = (p: number): number => normalQuantile(p, 0, 1);

/** P(B ≤ k) for B ~ Binomial(n, p). */
export const binomCdf = (k: number, n: number, p: number): number => binomialCdf(k, n, p);

/** The smallest k with P(B ≤ k) ≥ q for B ~ Binomial(n, p). */
export const binomQuantile = (q: number, n: number, p: number): number => binomialQuantile(q, n, p);

export function checkConfidence(confidence: number): void {
  if (!(confidence > 0.5 && confidence < 1)) {
    throw new RangeError(`confidence must be between 0.5 and 1, like 0.95 (got ${confidence})`);
  }
}
