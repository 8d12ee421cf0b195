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

/**
 * p95 (PERCENTILE_CONT(0.95) semantics: interpolated between the sorted values at floor and
 * ceil of 0.95 (n − 1)) of the latencies in buckets [from, to); null when there are none.
 */
export function p95Of(histograms: BucketHistograms, from: number, to: number): number | null {
  const counts = new Map<number, number>();
  for (let i = Math.max(0, from); i < Math.min(to, histograms.length); i++) {
    for (const [bin, n] of histograms[i]) counts.set(bin, (counts.get(bin) ?? 0) + n);
  }
  const bins = [...counts.keys()].sort((a, b) => a - b);
  const total = bins.reduce((s, b) => s + counts.get(b)!, 0);
  if (!total) return null;
  const p = 0.95 * (total - 1);
  const lo = valueAtRank(bins, counts, Math.floor(p));
  const hi = valueAtRank(bins, counts, Math.ceil(p));
  return lo + (p - Math.floor(p)) * (hi - lo);
}

function valueAtRank(bins: number[], counts: Map<number, number>, rank: number): number {
  let seen = 0;
  for (const b of bins) {
    seen += counts.get(b)!;
    if (rank < seen) return binValue(b);
  }
  return binValue(bins[bins.length - 1]);
}
