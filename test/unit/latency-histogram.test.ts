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

  it("is exactly the p95 of the bins' values sorted one by one, whatever the window (the windows reuse one array)", () => {
    const rnd = new Random(5);
    const h = emptyHistograms(30);
    // Bins far apart too (a 10 min latency, sub-millisecond ones), so the reused array grows.
    for (const m of h)
      for (let k = 0; k < 40; k++)
        m.set(binOf(rnd.next() < 0.02 ? 600_000 * rnd.next() : 900 * Math.exp(rnd.normal())), 1 + Math.floor(rnd.next() * 3));
    const value = (bin: number) => (bin === 0 ? 0.5 : 1.02 ** (bin - 0.5));
    for (let a = 0; a < 30; a += 3)
      for (const b of [a + 1, a + 10, 30]) {
        const values = h.slice(a, b).flatMap((m) => [...m].flatMap(([bin, n]) => Array<number>(n).fill(value(bin))));
        expect(p95Of(h, a, b), `${a}..${b}`).toBe(exactP95(values));
      }
  });

  it('has no value for an empty window, and counts sub-millisecond latencies', () => {
    const h = emptyHistograms(3);
    expect(p95Of(h, 0, 3)).toBeNull();
    h[1].set(binOf(0), 100);
    expect(p95Of(h, 0, 3)).toBeLessThan(1);
  });
});
