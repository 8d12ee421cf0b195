/**
 * Latency histograms with log-spaced bins, so a chart can show a real p95 for every evaluation
 * from per-bucket counts (summed over a window) instead of one percentile query per point.
 * Bin k ≥ 1 holds [RATIO^(k−1), RATIO^k) ms, bin 0 holds [0, 1) ms. A value is read back as its
 * bin's geometric middle, so a p95 is within ±1 % of PERCENTILE_CONT's (the SQL bins the same way).
 */
export const BIN_RATIO = 1.02;

export const binOf = (latencyMs: number) => (latencyMs < 1 ? 0 : 1 + Math.floor(Math.log(latencyMs) / Math.log(BIN_RATIO)));

const binValue = (bin: number) => (bin === 0 ? 0.5 : BIN_RATIO ** (bin - 0.5));

/** Per bucket: the occupied bins and their counts (sparse, as the grouped read returns them). */
export type BucketHistograms = Map<number, number>[];

export const emptyHistograms = (n: number): BucketHistograms => Array.from({ length: n }, () => new Map());

/** Counts per bin of one window, reused: a chart asks for hundreds of windows, and a Map each was most of its time (and garbage). */
let window = new Float64Array(1024);

/**
 * p95 (PERCENTILE_CONT(0.95) semantics: interpolated between the sorted values at floor and
 * ceil of 0.95 (n − 1)) of the latencies in buckets [from, to); null when there are none.
 */
export function p95Of(histograms: BucketHistograms, from: number, to: number): number | null {
  let lo = Number.POSITIVE_INFINITY;
  let hi = -1;
  let total = 0;
  // forEach, not for…of: no [bin, n] pair allocated per entry.
  const add = (n: number, bin: number) => {
    if (bin >= window.length) {
      const grown = new Float64Array(Math.max(bin + 1, window.length * 2));
      grown.set(window);
      window = grown;
    }
    window[bin] += n;
    total += n;
    if (bin < lo) lo = bin;
    if (bin > hi) hi = bin;
  };
  for (let i = Math.max(0, from); i < Math.min(to, histograms.length); i++) histograms[i].forEach(add);
  if (!total) return null;
  const p = 0.95 * (total - 1);
  const [rankLo, rankHi] = [Math.floor(p), Math.ceil(p)];
  let seen = 0;
  let low = Number.NaN;
  let high = Number.NaN;
  // The values at both ranks, walking the bins up from the lowest (a bin's value: its middle).
  for (let b = lo; b <= hi; b++) {
    seen += window[b];
    if (Number.isNaN(low) && rankLo < seen) low = binValue(b);
    if (rankHi < seen) {
      high = binValue(b);
      break;
    }
  }
  window.fill(0, lo, hi + 1);
  return low + (p - rankLo) * (high - low);
}
