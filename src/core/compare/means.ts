import { zFor } from './distributions.ts';
import { checkCount, comparison, noComparison, type Comparison } from './interval.ts';

/** Count, sum and sum of squares of one provider's values in the window: additive per bucket. */
export interface Moments {
  n: number;
  sum: number;
  sumSquares: number;
}

const mean = (m: Moments) => m.sum / m.n;

/** Sample variance from the sums; clamped at 0, since cancellation can leave a tiny negative. */
function variance(m: Moments): number {
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
  for (const [name, m] of [
    ['Runware', runware],
    ['FAL', fal],
  ] as const) {
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

/** One time bucket (a minute) of one provider's costs: their sum and count. */
export interface CostCluster {
  sum: number;
  n: number;
}

/**
 * The same ratio of mean costs, with the variance of each mean estimated from its minutes
 * (the linearised variance of a ratio estimator over clusters: Σ(s_m − mean·n_m)² / N², scaled
 * by M/(M − 1)). It needs only the per-minute sums the guard already keeps (no sum of squares
 * per row), and it is honest about costs that drift together within a minute. Needs ≥ 2 minutes.
 */
export function clusteredCostRatio(runware: CostCluster[], fal: CostCluster[], confidence = 0.95): Comparison {
  const parts: { mean: number; se2: number }[] = [];
  for (const [name, clusters] of [
    ['Runware', runware],
    ['FAL', fal],
  ] as const) {
    const used = clusters.filter((c) => c.n > 0);
    const n = used.reduce((a, c) => a + c.n, 0);
    const sum = used.reduce((a, c) => a + c.sum, 0);
    if (used.length < 2)
      return noComparison(`${name} has costs in ${used.length} minute${used.length === 1 ? '' : 's'} of the window: at least 2 are needed`);
    if (!(sum > 0)) return noComparison(`${name}'s costs add up to ${sum}: a ratio needs a positive mean`);
    const m = sum / n;
    const ss = used.reduce((a, c) => a + (c.sum - m * c.n) ** 2, 0);
    const varMean = ((used.length / (used.length - 1)) * ss) / (n * n);
    parts.push({ mean: m, se2: varMean / (m * m) });
  }
  const [r, f] = parts;
  const ratio = r.mean / f.mean;
  const half = zFor(confidence) * Math.sqrt(r.se2 + f.se2);
  return comparison({ estimate: ratio, lower: ratio * Math.exp(-half), upper: ratio * Math.exp(half), confidence });
}
