import { zFor } from './distributions.ts';
import { checkCount, comparison, noComparison, type Comparison } from './interval.ts';

/** Count, sum and sum of squares of one provider's values in the window: additive per bucket. */
export interface Moments {
  n: number;
  sum: number;
  sumSquares: number;
}

export const mean = (m: Moments) => m.sum / m.n;

/** Sample variance from the sums; clamped at 0, since cancellation can leave a tiny negative. */
export function variance(m: Moments): number {
  if (m.n < 2) return 0;
  return Math.max(0, (m.sumSquares - (m.sum * m.sum) / m.n) / (m.n - 1));
}

/**
 * Runware's mean cost per image over FAL's, with a delta-method interval on the log of the
 * ratio: ln(mR/mF) ± z·√(sR²/(nR·mR²) + sF²/(nF·mF²)). The log keeps the interval positive and
 * its sides honest about a ratio; with hundreds of images per window the means are near normal
 * (central limit), which is what the method assumes. Inputs: cost rows' count, sum, sum of squares.
 */
export function costRatio(runware: Moments, fal: Moments, confidence = 0.95): Comparison {
  for (const [name, m] of [['Runware', runware], ['FAL', fal]] as const) {
    checkCount(`${name} n`, m.n);
    if (m.n < 2) return noComparison(`${name} has ${m.n} cost rows: at least 2 are needed`);
    if (!(m.sum > 0)) return noComparison(`${name}'s costs add up to ${m.sum}: a ratio needs a positive mean`);
  }
  const mR = mean(runware);
  const mF = mean(fal);
  const se = Math.sqrt(variance(runware) / (runware.n * mR * mR) + variance(fal) / (fal.n * mF * mF));
  const half = zFor(confidence) * se;
  const ratio = mR / mF;
  return comparison({ estimate: ratio, lower: ratio * Math.exp(-half), upper: ratio * Math.exp(half), confidence });
}

/** Moments of a list of values (reads that keep rows, and tests). */
export function momentsOf(values: ArrayLike<number>): Moments {
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    sumSquares += values[i] * values[i];
  }
  return { n: values.length, sum, sumSquares };
}
