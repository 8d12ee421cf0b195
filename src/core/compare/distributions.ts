import { createRequire } from 'node:module';
import type BinomialCdf from '@stdlib/stats-base-dists-binomial-cdf';
import type BinomialQuantile from '@stdlib/stats-base-dists-binomial-quantile';
import type NormalQuantile from '@stdlib/stats-base-dists-normal-quantile';

/*
 * The only distribution functions the comparison uses, from stdlib (maintained, typed, pure JS,
 * no install scripts) rather than hand-written approximations. They are some 360 small modules,
 * a third of what the bot would load at start: loaded at the first comparison instead, so a
 * replica with no stage to judge (a standby, an idle bot) never pays for them.
 */
const require = createRequire(import.meta.url);
let stdlib: { binomialCdf: typeof BinomialCdf; binomialQuantile: typeof BinomialQuantile; normalQuantile: typeof NormalQuantile } | null =
  null;
const dists = () =>
  (stdlib ??= {
    binomialCdf: require('@stdlib/stats-base-dists-binomial-cdf'),
    binomialQuantile: require('@stdlib/stats-base-dists-binomial-quantile'),
    normalQuantile: require('@stdlib/stats-base-dists-normal-quantile'),
  });

/** The two-sided critical value: 1.96 for 0.95. */
export function zFor(confidence: number): number {
  checkConfidence(confidence);
  return dists().normalQuantile(1 - (1 - confidence) / 2, 0, 1);
}

export const normalQuantileStd = (p: number): number => dists().normalQuantile(p, 0, 1);

/** P(B ≤ k) for B ~ Binomial(n, p). */
export const binomCdf = (k: number, n: number, p: number): number => dists().binomialCdf(k, n, p);

/** The smallest k with P(B ≤ k) ≥ q for B ~ Binomial(n, p). */
export const binomQuantile = (q: number, n: number, p: number): number => dists().binomialQuantile(q, n, p);

export function checkConfidence(confidence: number): void {
  if (!(confidence > 0.5 && confidence < 1)) {
    throw new RangeError(`confidence must be between 0.5 and 1, like 0.95 (got ${confidence})`);
  }
}
