import { describe, expect, it } from 'vitest';
import { binOf, emptyHistograms, p95Of } from '../../src/core/latency-histogram.ts';
import { Random } from '../../src/demo/random.ts';

/** PERCENTILE_CONT(0.95), as Postgres computes it. */
function exactP95(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const p = 0.95 * (s.length - 1);
  return s[Math.floor(p)] + (p - Math.floor(p)) * (s[Math.ceil(p)] - s[Math.floor(p)]);
}

describe('p95 from log-spaced latency histograms', () => {
  it('is within 1 % of PERCENTILE_CONT over any window of buckets', () => {
    const rnd = new Random(11);
    const buckets = Array.from({ length: 40 }, (_, i) =>
      Array.from({ length: 5 + Math.floor(rnd.next() * 60) }, () => (i > 20 ? 3 : 1) * 900 * Math.exp(0.6 * rnd.normal())),
    );
    const h = emptyHistograms(buckets.length);
    for (const [i, vs] of buckets.entries()) for (const v of vs) h[i].set(binOf(v), (h[i].get(binOf(v)) ?? 0) + 1);
    for (const [a, b] of [
      [0, 10],
      [15, 25],
      [30, 40],
      [0, 40],
      [39, 40],
    ]) {
      const exact = exactP95(buckets.slice(a, b).flat());
      expect(Math.abs(p95Of(h, a, b)! - exact) / exact, `${a}..${b}`).toBeLessThanOrEqual(0.0101);
    }
  });

  it('has no value for an empty window, and counts sub-millisecond latencies', () => {
    const h = emptyHistograms(3);
    expect(p95Of(h, 0, 3)).toBeNull();
    h[1].set(binOf(0), 100);
    expect(p95Of(h, 0, 3)).toBeLessThan(1);
  });
});
