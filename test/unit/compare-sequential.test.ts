import { describe, expect, test } from 'vitest';
import { Random } from '../../src/demo/random.ts';
import {
  failureSequential,
  latencySequential,
  logMomentsOf,
  sequenceHalfWidth,
  type LogMoments,
} from '../../src/core/compare/sequential.ts';
import type { Proportion } from '../../src/core/compare/proportions.ts';

const OPTIONS = { confidence: 0.95, minSamples: 200, marginPp: 1, marginRatio: 1.1 };

describe('the confidence sequence and its verdicts', () => {
  test('the half-width shrinks as data come in, and is wider than a fixed-sample interval', () => {
    const v = (0.007 * 0.993) / 1000;
    const widths = [1, 4, 16, 64].map((k) => sequenceHalfWidth(v / k, 0.01, 0.05));
    for (let i = 1; i < widths.length; i++) expect(widths[i]).toBeLessThan(widths[i - 1]);
    // The price of looking as often as one likes: wider than 1.96·se at the same data.
    expect(widths[0]).toBeGreaterThan(1.96 * Math.sqrt(v));
    expect(sequenceHalfWidth(Infinity, 0.01, 0.05)).toBe(Infinity);
  });

  test('below the minimum sample: too_few, with the Runware requests still missing', () => {
    const r = failureSequential({ events: 0, trials: 120 }, { events: 5, trials: 1080 }, OPTIONS);
    expect(r.verdict).toBe('too_few');
    expect(r.moreRunware).toBe(80);
    // FAL short too (an even split): the shortfall is counted in Runware requests at the split.
    expect(failureSequential({ events: 0, trials: 300 }, { events: 0, trials: 150 }, OPTIONS).moreRunware).toBe(100);
    expect(failureSequential({ events: 0, trials: 0 }, { events: 0, trials: 0 }, OPTIONS)).toMatchObject({
      verdict: 'too_few',
      moreRunware: null,
    });
  });

  test('identical providers with plenty of traffic: not worse', () => {
    const r = failureSequential({ events: 70, trials: 10_000 }, { events: 70, trials: 10_000 }, OPTIONS);
    expect(r).toMatchObject({ verdict: 'not_worse', estimate: 0, margin: 1 });
    expect(r.upper).toBeLessThan(1);
    expect(r.lower).toBeCloseTo(-r.upper, 10);
  });

  test('0 failures on both sides at the minimum is inconclusive, and the requests it asks for settle it', () => {
    const r = failureSequential({ events: 0, trials: 200 }, { events: 0, trials: 1800 }, OPTIONS);
    expect(r.verdict).toBe('inconclusive');
    expect(r.lower).toBeLessThan(0);
    expect(r.upper).toBeGreaterThan(1);
    const more = r.moreRunware!;
    expect(more).toBeGreaterThan(0);
    const later = (extra: number) =>
      failureSequential({ events: 0, trials: 200 + extra }, { events: 0, trials: 1800 + 9 * extra }, OPTIONS).verdict;
    expect(later(more)).toBe('not_worse');
    expect(later(Math.floor(more * 0.9))).toBe('inconclusive');
  });

  test('a clear excess is worse; a small real one is not worse once the margin is shown', () => {
    expect(failureSequential({ events: 60, trials: 2000 }, { events: 126, trials: 18_000 }, OPTIONS).verdict).toBe('worse');
    // +0.3 pp, shown to be under the 1 pp margin: not worse, even though it is above 0.
    const small = failureSequential({ events: 1000, trials: 100_000 }, { events: 700, trials: 100_000 }, OPTIONS);
    expect(small.lower).toBeGreaterThan(0);
    expect(small.verdict).toBe('not_worse');
  });

  test('latency compares typical (geometric-mean) latency as a ratio', () => {
    const rng = new Random(7);
    const fal = logMomentsOf(Array.from({ length: 5000 }, () => rng.logNormal(2500, 0.55)));
    const slow = logMomentsOf(Array.from({ length: 5000 }, () => rng.logNormal(3250, 0.55)));
    const same = logMomentsOf(Array.from({ length: 5000 }, () => rng.logNormal(2500, 0.55)));
    const worse = latencySequential(slow, fal, OPTIONS);
    expect(worse.verdict).toBe('worse');
    expect(worse.estimate).toBeGreaterThan(1.25);
    expect(worse.estimate).toBeLessThan(1.35);
    expect(latencySequential(same, fal, OPTIONS)).toMatchObject({ verdict: 'not_worse', margin: 1.1 });
  });

  test('bad options are refused with what to do', () => {
    expect(() => failureSequential({ events: 0, trials: 1 }, { events: 0, trials: 1 }, { ...OPTIONS, marginPp: 0 })).toThrow(
      'the failure margin must be a positive number of pp (got 0)',
    );
    expect(() => latencySequential(logMomentsOf([1]), logMomentsOf([1]), { ...OPTIONS, marginRatio: 0.9 })).toThrow(
      'must be a ratio above 1, like 1.1 (got 0.9)',
    );
    expect(() => failureSequential({ events: 3, trials: 2 }, { events: 0, trials: 1 }, OPTIONS)).toThrow(
      'failures (3) cannot exceed requests (2)',
    );
  });
});

/*
 * A stage checked at every evaluation (every 30 s) against the data since the stage began, at
 * the bench's traffic: ≈ 368 requests a minute on average, D1 sending 10 % (≈ 37 a minute) to
 * Runware. Failures 0.7 % on FAL (the bench's); latencies as the bench's (log-normal, median
 * 2.5 s, σ 0.55, 0.5 % tail at 5–20×).
 */
const PER_MINUTE = 368;
const LOOKS_3H = 360;

function bernoullis(rng: Random, n: number, p: number): number {
  let k = 0;
  for (let i = 0; i < n; i++) if (rng.next() < p) k++;
  return k;
}

interface Run {
  /** Minutes into the stage of the first verdict of each kind, or null when never. */
  worse: number | null;
  notWorse: number | null;
}

function failureRun(seed: number, share: number, pR: number, pF: number, looks: number): Run {
  const rng = new Random(seed);
  const r: Proportion = { events: 0, trials: 0 };
  const f: Proportion = { events: 0, trials: 0 };
  const run: Run = { worse: null, notWorse: null };
  for (let look = 1; look <= looks; look++) {
    const nR = rng.poisson((PER_MINUTE * share) / 2);
    const nF = rng.poisson((PER_MINUTE * (1 - share)) / 2);
    r.trials += nR;
    r.events += bernoullis(rng, nR, pR);
    f.trials += nF;
    f.events += bernoullis(rng, nF, pF);
    const v = failureSequential(r, f, OPTIONS).verdict;
    if (v === 'worse') run.worse ??= look / 2;
    if (v === 'not_worse') run.notWorse ??= look / 2;
  }
  return run;
}

const latency = (rng: Random, median: number) => {
  const x = rng.logNormal(median, 0.55);
  return rng.chance(0.005) ? x * (5 + 15 * rng.next()) : x;
};

function add(m: LogMoments, ms: number) {
  const l = Math.log(ms);
  m.n++;
  m.sumLog += l;
  m.sumLogSquares += l * l;
}

function latencyRun(seed: number, share: number, medianR: number, looks: number): Run {
  const rng = new Random(seed);
  const r: LogMoments = { n: 0, sumLog: 0, sumLogSquares: 0 };
  const f: LogMoments = { n: 0, sumLog: 0, sumLogSquares: 0 };
  const run: Run = { worse: null, notWorse: null };
  for (let look = 1; look <= looks; look++) {
    const nR = rng.poisson((PER_MINUTE * share) / 2);
    const nF = rng.poisson((PER_MINUTE * (1 - share)) / 2);
    for (let i = 0; i < nR; i++) add(r, latency(rng, medianR));
    for (let i = 0; i < nF; i++) add(f, latency(rng, 2500));
    const v = latencySequential(r, f, OPTIONS).verdict;
    if (v === 'worse') run.worse ??= look / 2;
    if (v === 'not_worse') run.notWorse ??= look / 2;
  }
  return run;
}

const runs = <T>(count: number, seed: number, one: (seed: number) => T): T[] => Array.from({ length: count }, (_, i) => one(seed + i));
const share = (rs: Run[], pick: (r: Run) => boolean) => rs.filter(pick).length / rs.length;
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

// A generous timeout, not a timing claim: a loaded machine must not fail a correct simulation.
describe('checked every 30 s through a 3-hour stage, the sequential test keeps its promises', { timeout: 60_000 }, () => {
  test('no true difference in failures (D1 and D2 weights): "worse" in at most 5 % of runs', () => {
    const d1 = runs(300, 1_000, (s) => failureRun(s, 0.1, 0.007, 0.007, LOOKS_3H));
    const d2 = runs(200, 2_000, (s) => failureRun(s, 0.5, 0.007, 0.007, LOOKS_3H));
    expect(share(d1, (r) => r.worse !== null)).toBeLessThanOrEqual(0.05);
    expect(share(d2, (r) => r.worse !== null)).toBeLessThanOrEqual(0.05);
    // And it is not merely silent: equal providers are shown "not worse" within the stage.
    expect(share(d1, (r) => r.notWorse !== null)).toBeGreaterThanOrEqual(0.95);
  });

  test('no true difference in latency (D1 weights): "worse" in at most 5 % of runs', () => {
    const d1 = runs(100, 3_000, (s) => latencyRun(s, 0.1, 2500, LOOKS_3H));
    expect(share(d1, (r) => r.worse !== null)).toBeLessThanOrEqual(0.05);
    expect(share(d1, (r) => r.notWorse !== null)).toBeGreaterThanOrEqual(0.95);
  });

  test('a true +2 pp failure increase at D1: "worse" within 40 minutes in at least 95 % of runs, never "not worse"', () => {
    const d1 = runs(300, 4_000, (s) => failureRun(s, 0.1, 0.027, 0.007, 120));
    const minutes = d1.map((r) => r.worse ?? Infinity);
    expect(quantile(minutes, 0.95)).toBeLessThanOrEqual(40);
    expect(quantile(minutes, 0.5)).toBeLessThanOrEqual(25);
    expect(share(d1, (r) => r.notWorse !== null)).toBeLessThanOrEqual(0.05);
  });

  test('Runware 30 % slower at D1: "worse" on latency within 10 minutes in at least 95 % of runs', () => {
    const d1 = runs(100, 5_000, (s) => latencyRun(s, 0.1, 3250, 40));
    expect(
      quantile(
        d1.map((r) => r.worse ?? Infinity),
        0.95,
      ),
    ).toBeLessThanOrEqual(10);
  });
});
