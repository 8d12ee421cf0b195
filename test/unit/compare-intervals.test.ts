import { describe, expect, test } from 'vitest';
import { Random } from '../../src/demo/random.ts';
import { failureDifference, proportionDifference, voucherShift, wilson } from '../../src/core/compare/proportions.ts';
import { p95RankPlan, p95Ratio, p95SampleOf, percentileCont } from '../../src/core/compare/quantile.ts';
import { costRatio, momentsOf } from '../../src/core/compare/means.ts';
import type { Comparison } from '../../src/core/compare/interval.ts';
import { binomQuantile } from '../../src/core/compare/distributions.ts';

const interval = (c: Comparison) => {
  if (!c.ok) throw new Error(`expected an interval, got: ${c.reason}`);
  return c.interval;
};

describe('Wilson and Newcombe against the published values', () => {
  // Newcombe (1998a), Stat Med 17:857, Table I, method 3 (score interval without continuity correction).
  test.each([
    [81, 263, 0.2553, 0.3662],
    [15, 148, 0.0624, 0.1605],
    [0, 20, 0, 0.1611],
    [1, 29, 0.0061, 0.1718],
  ])('Wilson %i/%i is [%f, %f]', (events, trials, lower, upper) => {
    const w = wilson({ events, trials }, 0.95);
    expect(w.lower).toBeCloseTo(lower, 4);
    expect(w.upper).toBeCloseTo(upper, 4);
  });

  // Newcombe (1998b), Stat Med 17:873, Table II, method 10 (hybrid score, no continuity correction).
  test.each([
    [56, 70, 48, 80, 0.0524, 0.3339],
    [9, 10, 3, 10, 0.1705, 0.809],
    [6, 7, 2, 7, 0.0582, 0.8062],
    [5, 56, 0, 29, -0.0381, 0.1926],
    [0, 10, 0, 20, -0.1611, 0.2775],
    [0, 10, 0, 10, -0.2775, 0.2775],
    [10, 10, 0, 20, 0.6791, 1],
    [10, 10, 0, 10, 0.6075, 1],
  ])('%i/%i − %i/%i is [%f, %f]', (a, m, b, n, lower, upper) => {
    const i = interval(proportionDifference({ events: a, trials: m }, { events: b, trials: n }));
    expect(i.lower / 100).toBeCloseTo(lower, 4);
    expect(i.upper / 100).toBeCloseTo(upper, 4);
  });
});

describe('failure and voucher differences at the edges', () => {
  test('0 failures on both sides: an interval around 0 that is not a point', () => {
    const i = interval(failureDifference({ events: 0, trials: 60 }, { events: 0, trials: 540 }));
    expect(i.estimate).toBe(0);
    expect(i.lower).toBeLessThan(0);
    expect(i.upper).toBeGreaterThan(0);
    // Runware's thin side leaves more room upwards than FAL's thick side downwards.
    expect(i.upper).toBeGreaterThan(-i.lower);
  });

  test('no rows on a side gives a reason, not NaN', () => {
    expect(failureDifference({ events: 0, trials: 0 }, { events: 3, trials: 500 })).toEqual({
      ok: false,
      reason: 'no candidate rows to compare',
    });
    expect(failureDifference({ events: 1, trials: 50 }, { events: 0, trials: 0 })).toEqual({
      ok: false,
      reason: 'no reference rows to compare',
    });
  });

  test('impossible counts are refused with what is wrong', () => {
    expect(() => failureDifference({ events: 6, trials: 5 }, { events: 0, trials: 5 })).toThrow('events (6) cannot exceed trials (5)');
    expect(() => failureDifference({ events: 1.5, trials: 5 }, { events: 0, trials: 5 })).toThrow(
      'events must be a whole number ≥ 0 (got 1.5)',
    );
    expect(() => failureDifference({ events: 1, trials: 5 }, { events: 0, trials: 5 }, 1.2)).toThrow(
      'confidence must be between 0.5 and 1',
    );
  });

  test('vouchers are compared with the hour before D1, and more vouchers than images is not a rate', () => {
    const i = interval(voucherShift({ events: 450, trials: 20_000 }, { events: 400, trials: 20_000 }));
    expect(i.estimate).toBeCloseTo(0.25, 10);
    expect(i.lower).toBeLessThan(0);
    expect(i.upper).toBeGreaterThan(0.5);
    expect(voucherShift({ events: 5, trials: 4 }, { events: 1, trials: 100 })).toMatchObject({
      ok: false,
      reason: expect.stringContaining('more vouchers (5) than gen_ok rows (4)'),
    });
    expect(voucherShift({ events: 5, trials: 400 }, { events: 0, trials: 0 })).toMatchObject({
      ok: false,
      reason: 'no gen_ok rows in the hour before D1 to compare with',
    });
  });
});

describe('p95: ranks to fetch and the ratio', () => {
  test('the ranks cover the true p95 with at least the confidence asked, whatever n', () => {
    for (const n of [72, 73, 100, 184, 500, 1656, 20_000]) {
      const plan = p95RankPlan(n)!;
      expect(plan.coverage).toBeGreaterThanOrEqual(0.95);
      expect(plan.lower).toBeLessThan(Math.ceil(0.95 * n));
      expect(plan.upper).toBeGreaterThan(Math.floor(0.95 * n));
      expect(plan.upper).toBeLessThanOrEqual(n);
      // percentile_disc(f) returns the first row whose position i/n reaches f: rank ⌈f·n⌉.
      expect(plan.fractions.map((f) => Math.ceil(f * n))).toEqual([plan.lower, plan.upper]);
    }
    expect(p95RankPlan(185)).toMatchObject({ lower: 170, upper: 182 });
  });

  test('below 72 latencies there is no upper bound for a p95, and the ratio says so', () => {
    expect(p95RankPlan(71)).toBeNull();
    expect(p95RankPlan(0)).toBeNull();
    const few = { n: 60, p95: 5000, lower: 4000, upper: 6000 };
    const many = p95SampleOf(Float64Array.from({ length: 500 }, (_, i) => 1000 + i * 10))!;
    expect(p95Ratio(few, many)).toEqual({ ok: false, reason: 'Runware: 60 latencies are too few to bound a p95' });
  });

  test('percentile_cont interpolates like Postgres', () => {
    expect(percentileCont([1, 2, 3, 4, 5], 0.95)).toBeCloseTo(4.8, 10);
    expect(percentileCont([10], 0.95)).toBe(10);
  });

  test('identical latencies give a ratio of 1 inside its interval; doubling them doubles it', () => {
    const rng = new Random(3);
    const base = Float64Array.from({ length: 400 }, () => rng.logNormal(2500, 0.5)).sort();
    const same = interval(p95Ratio(p95SampleOf(base)!, p95SampleOf(base)!));
    expect(same.estimate).toBe(1);
    expect(same.lower).toBeLessThan(1);
    expect(same.upper).toBeGreaterThan(1);
    const doubled = interval(p95Ratio(p95SampleOf(base.map((x) => 2 * x))!, p95SampleOf(base)!));
    expect(doubled.estimate).toBeCloseTo(2, 10);
    expect(doubled.lower).toBeCloseTo(2 * same.lower, 10);
  });
});

describe('cost per image: ratio of means', () => {
  test('matches the delta method worked by hand', () => {
    // Means 2 and 5, variances 1 and 20/3: se(log ratio) = √(1/(3·4) + (20/3)/(4·25)) = 0.38730.
    const i = interval(costRatio(momentsOf([1, 2, 3]), momentsOf([2, 4, 6, 8])));
    expect(i.estimate).toBeCloseTo(0.4, 12);
    expect(i.lower).toBeCloseTo(0.187237, 5);
    expect(i.upper).toBeCloseTo(0.854533, 5);
  });

  test('a flat price gives a point; too few or free images give a reason', () => {
    const i = interval(costRatio(momentsOf([0.0045, 0.0045, 0.0045]), momentsOf([0.005, 0.005])));
    // Only the rounding left by sum² − n·mean² in the variance separates the bounds.
    expect(i.lower).toBeCloseTo(0.9, 6);
    expect(i.upper).toBeCloseTo(0.9, 6);
    expect(costRatio(momentsOf([0.004]), momentsOf([0.005, 0.005]))).toEqual({
      ok: false,
      reason: 'Runware has 1 cost rows: at least 2 are needed',
    });
    expect(costRatio(momentsOf([0.004, 0.004]), momentsOf([0, 0]))).toMatchObject({
      ok: false,
      reason: expect.stringContaining("FAL's costs add up to 0"),
    });
  });
});

/*
 * Coverage: in 1,000 seeded windows, how often the 95% interval holds the true difference.
 * With 1,000 windows the Monte Carlo standard error is ~0.7 pt, so "about 95 %" is asserted as
 * 93 %–98 %: no more than 3 standard errors short, and not so wide as to be useless.
 * D1 at the bench's traffic (≈ 368 requests a minute, 10 % to Runware): a 5-minute window holds
 * ≈ 184 Runware and ≈ 1,656 FAL requests; a thin one at a quiet hour a quarter of that.
 */
const WINDOWS = 1000;

/** Exact binomial draws: Bernoulli trials when few, inversion of the CDF (stdlib) when many. */
function binomial(rng: Random, n: number, p: number): number {
  if (n > 2000) return binomQuantile(rng.next(), n, p);
  let k = 0;
  for (let i = 0; i < n; i++) if (rng.next() < p) k++;
  return k;
}

function coverage(seed: number, draw: (rng: Random) => Comparison, truth: number): number {
  const rng = new Random(seed);
  let hits = 0;
  for (let w = 0; w < WINDOWS; w++) {
    const i = interval(draw(rng));
    if (i.lower <= truth && truth <= i.upper) hits++;
  }
  return hits / WINDOWS;
}

// A generous timeout, not a timing claim: a loaded machine must not fail a correct simulation.
describe('95 % intervals cover the truth in about 95 % of 1,000 simulated windows', { timeout: 60_000 }, () => {
  test.each([
    ['D1 5-minute window, equal 0.7 % failures', 184, 1656, 0.007, 0.007],
    ['D1 thin window (quiet hour), equal 0.7 % failures: mostly 0 or 1 Runware failure', 46, 414, 0.007, 0.007],
    ['D1 5-minute window, Runware +2 pp', 184, 1656, 0.027, 0.007],
    ['D2 5-minute window, Runware +0.5 pp', 920, 920, 0.012, 0.007],
    ['tiny counts, large rates', 20, 20, 0.3, 0.1],
  ])('failures: %s', (_name, nR, nF, pR, pF) => {
    const c = coverage(
      101,
      (rng) => failureDifference({ events: binomial(rng, nR, pR), trials: nR }, { events: binomial(rng, nF, pF), trials: nF }),
      100 * (pR - pF),
    );
    expect(c).toBeGreaterThanOrEqual(0.93);
    expect(c).toBeLessThanOrEqual(0.98);
  });

  test('failures: no failures at all, every window holds 0', () => {
    expect(coverage(102, () => failureDifference({ events: 0, trials: 46 }, { events: 0, trials: 414 }), 0)).toBe(1);
  });

  test('vouchers: an hour at 2 % against the hour before D1 at 2 %', () => {
    const c = coverage(
      103,
      (rng) =>
        voucherShift({ events: binomial(rng, 22_000, 0.02), trials: 22_000 }, { events: binomial(rng, 20_000, 0.02), trials: 20_000 }),
      0,
    );
    expect(c).toBeGreaterThanOrEqual(0.93);
    expect(c).toBeLessThanOrEqual(0.98);
  });

  // The bench's latencies: log-normal (median 2.5 s, σ 0.55) with a 0.5 % tail at 5–20×.
  const latency = (rng: Random, median: number) => {
    const x = rng.logNormal(median, 0.55);
    return rng.chance(0.005) ? x * (5 + 15 * rng.next()) : x;
  };
  // The true p95 of that mixture does not depend on the median but by scale: 8 % slower is 1.08×.
  const TRUE_RATIO = 2700 / 2500;

  test.each([
    ['D1 5-minute window', 184, 1656],
    ['thin window near the minimum for a p95', 80, 720],
  ])('p95 ratio: %s', (_name, nR, nF) => {
    const c = coverage(
      104,
      (rng) => {
        const r = Float64Array.from({ length: nR }, () => latency(rng, 2700)).sort();
        const f = Float64Array.from({ length: nF }, () => latency(rng, 2500)).sort();
        return p95Ratio(p95SampleOf(r)!, p95SampleOf(f)!);
      },
      TRUE_RATIO,
    );
    expect(c).toBeGreaterThanOrEqual(0.93);
    expect(c).toBeLessThanOrEqual(0.98);
  });

  // Thinner than the cost red line's 1-hour window (≈ 2,200 Runware images at D1): the
  // central limit theorem the method leans on has less to work with, so this is the harder case.
  test('cost ratio: a 5-minute D1 window, costs spread ±30 %', () => {
    // Log-normal costs with mean exactly 0.0045 and 0.005: the true ratio is 0.9.
    const cost = (rng: Random, mean: number) => mean * Math.exp(0.3 * rng.normal() - 0.045);
    const c = coverage(
      105,
      (rng) => {
        const r = Array.from({ length: 184 }, () => cost(rng, 0.0045));
        const f = Array.from({ length: 1656 }, () => cost(rng, 0.005));
        return costRatio(momentsOf(r), momentsOf(f));
      },
      0.9,
    );
    expect(c).toBeGreaterThanOrEqual(0.93);
    expect(c).toBeLessThanOrEqual(0.98);
  });
});
