import { describe, expect, it } from 'vitest';
import { p95Verdict } from '../../src/core/backtest.ts';

/** PERCENTILE_CONT(0.95) as Postgres computes it. */
function percentileCont(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const p = 0.95 * (v.length - 1);
  const lo = Math.floor(p);
  return v[lo] + (p - lo) * (v[Math.ceil(p)] - v[lo]);
}

describe('p95 decided from counts', () => {
  it('agrees with PERCENTILE_CONT on 5 000 random windows, or says it cannot tell', () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    let ambiguous = 0;
    for (let t = 0; t < 5_000; t++) {
      const n = 1 + Math.floor(rand() * 300);
      const tail = rand() * 0.2;
      const values = Array.from({ length: n }, () => (rand() < tail ? 6_000 + rand() * 8_000 : 500 + rand() * 4_000));
      const threshold = 8_000;
      const verdict = p95Verdict(n, values.filter((x) => x >= threshold).length);
      const exact = percentileCont(values) >= threshold ? 'breach' : 'ok';
      if (verdict === 'ambiguous') ambiguous++;
      else expect(verdict).toBe(exact);
    }
    expect(ambiguous).toBeLessThan(500); // the exact read is the exception, not the rule
  });

  it('has no verdict without samples', () => {
    expect(p95Verdict(0, 0)).toBe('none');
    expect(p95Verdict(1, 1)).toBe('breach');
    expect(p95Verdict(1, 0)).toBe('ok');
  });
});
