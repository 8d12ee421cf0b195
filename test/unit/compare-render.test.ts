import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import {
  costText,
  failureText,
  p95Text,
  sharedBreachText,
  signed,
  verdictText,
  versusLine,
  voucherText,
} from '../../src/render/compare.ts';
import { rollsBackOn, sharedBreach, type SharedBreachLine } from '../../src/core/compare/shared-breach.ts';
import { COMPARE_DEFAULTS, compareSchema, onSharedBreachSchema } from '../../src/plan/compare-schema.ts';
import { failureSequential, latencySequential, type SequentialResult } from '../../src/core/compare/sequential.ts';
import type { Comparison } from '../../src/core/compare/interval.ts';

const NAMES = { to: 'Runware', from: 'FAL' };
const c = (estimate: number, lower: number, upper: number): Comparison => ({
  ok: true,
  interval: { estimate, lower, upper, confidence: 0.95 },
});

describe('what people read', () => {
  test('the checklist line, with the real minus sign', () => {
    const line = versusLine(NAMES, [
      failureText(c(0.4, -0.1, 0.9)),
      p95Text(c(1.12, 0.98, 1.3), NAMES),
      costText(c(1.05, 1.01, 1.09), NAMES),
      voucherText(c(0.3, -0.2, 0.8)),
    ]);
    expect(line).toBe(
      'Runware vs FAL: failures +0.4 pp [−0.1, +0.9] · p95 1.12× FAL [0.98, 1.30] · cost 1.05× FAL [1.01, 1.09] · vouchers +0.3 pp vs the hour before D1 [−0.2, +0.8]',
    );
  });

  test('signs: no "−0.0", and an unbounded ratio reads ∞', () => {
    expect(signed(-0.04)).toBe('0.0');
    expect(signed(-0.06)).toBe('−0.1');
    expect(signed(0)).toBe('0.0');
    expect(p95Text(c(1.1, 0.5, Infinity), NAMES)).toBe('p95 1.10× FAL [0.50, ∞]');
  });

  test('no comparison says why', () => {
    expect(failureText({ ok: false, reason: 'no candidate rows to compare' })).toBe(
      'failures: no comparison (no candidate rows to compare)',
    );
  });

  const result = (over: Partial<SequentialResult>): SequentialResult => ({
    verdict: 'inconclusive',
    estimate: 0.2,
    lower: -0.9,
    upper: 1.4,
    margin: 1,
    confidence: 0.95,
    runwareSamples: 600,
    falSamples: 5400,
    moreRunware: 1234,
    ...over,
  });

  test.each([
    [
      result({ verdict: 'not_worse', estimate: 0.1, lower: -0.6, upper: 0.8, moreRunware: null }),
      'failures',
      'Runware not worse than FAL on failures (margin 1 pp): +0.1 pp [−0.6, +0.8]',
    ],
    [
      result({ verdict: 'worse', estimate: 2.1, lower: 0.4, upper: 3.8, moreRunware: null }),
      'failures',
      'Runware worse than FAL on failures: +2.1 pp [+0.4, +3.8]',
    ],
    [
      result({}),
      'failures',
      'Runware vs FAL on failures inconclusive (margin 1 pp): +0.2 pp [−0.9, +1.4]; about 1,234 more Runware requests, ~34m at the current rate',
    ],
    [
      result({ verdict: 'worse', estimate: 1.25, lower: 1.08, upper: 1.44, margin: 1.1, moreRunware: null }),
      'latency',
      'Runware worse than FAL on latency: 1.25× [1.08, 1.44]',
    ],
    [
      result({ verdict: 'too_few', runwareSamples: 120, falSamples: 1080, moreRunware: 80 }),
      'failures',
      'Runware vs FAL on failures: too few requests counted yet (120 Runware, 1080 FAL; each needs the minimum)',
    ],
  ] as const)('verdict sentence %#', (r, metric, text) => {
    expect(verdictText(r, metric, NAMES, { runwarePerMinute: 37 })).toBe(text);
  });

  // A stage started 10:00:20; minutes count once settled, 2 min after they end.
  const counted = (through: string) => ({ from: '2026-11-28T10:01:00.000Z', through, settleMs: 120_000 });

  test('a minute into a stage with plenty of traffic: nothing counted yet, and when there will be enough', () => {
    const r = result({ verdict: 'too_few', runwareSamples: 0, falSamples: 0, moreRunware: null });
    expect(
      verdictText(r, 'failures', NAMES, {
        counted: counted('2026-11-28T10:01:00.000Z'),
        minSamples: 1000,
        live: { to: 340, from: 3060 },
      }),
    ).toBe(
      "Runware vs FAL on failures: nothing counted yet. It counts this stage's whole minutes, each 2m after it ends: the first (10:01–10:02 UTC) counts at 10:04 UTC; each needs 1,000; enough at about 10:06 UTC",
    );
  });

  test('some minutes counted: what, over which minutes, and when there will be enough', () => {
    const r = result({ verdict: 'too_few', runwareSamples: 680, falSamples: 6120, moreRunware: 320 });
    expect(
      verdictText(r, 'failures', NAMES, { counted: counted('2026-11-28T10:03:00.000Z'), minSamples: 1000, runwarePerMinute: 340 }),
    ).toBe(
      'Runware vs FAL on failures: too few requests yet, 680 Runware and 6,120 FAL in the 2 settled minutes of this stage (10:01–10:03 UTC); each needs 1,000; about 320 more Runware requests; enough at about 10:06 UTC',
    );
  });

  test('the sentence follows the computed verdict end to end', () => {
    const r = failureSequential(
      { events: 70, trials: 10_000 },
      { events: 70, trials: 10_000 },
      { confidence: 0.95, minSamples: 200, marginPp: 1 },
    );
    expect(verdictText(r, 'failures', NAMES)).toMatch(
      /^Runware not worse than FAL on failures \(margin 1 pp\): 0\.0 pp \[−0\.\d, \+0\.\d\]$/,
    );
    const l = latencySequential(
      { n: 10, sumLog: 78, sumLogSquares: 610 },
      { n: 10, sumLog: 78, sumLogSquares: 610 },
      { confidence: 0.95, minSamples: 200, marginRatio: 1.1 },
    );
    expect(verdictText(l, 'latency', NAMES)).toContain('too few requests counted yet (10 Runware, 10 FAL');
  });
});

describe('a breach FAL shares', () => {
  const line = (over: Partial<SharedBreachLine>): SharedBreachLine => ({
    name: 'p95LatencyMs',
    state: 'breach',
    threshold: 8000,
    fromValue: 9100,
    ...over,
  });
  const plan = { minSamples: 50 };

  test.each([
    ['FAL over the same red line', line({}), true],
    ['FAL under it', line({ fromValue: 6000 }), false],
    ['p95 at exactly the threshold counts, as the red line does (≥)', line({ fromValue: 8000 }), true],
    ['failure rate at exactly the threshold does not (>)', line({ name: 'failureRatePercent', threshold: 2, fromValue: 2 }), false],
    ['failure rate above it does', line({ name: 'failureRatePercent', threshold: 2, fromValue: 2.4 }), true],
    ['Runware not in breach', line({ state: 'ok' }), false],
    ['vouchers carry no provider', line({ name: 'regenerateRatePercent', threshold: 5, fromValue: null }), false],
    ['FAL with too few rows to trust', line({ fromSamples: 20 }), false],
    ['FAL with enough rows', line({ fromSamples: 400 }), true],
  ] as const)('%s', (_name, l, shared) => {
    expect(sharedBreach(plan, l)).toBe(shared);
  });

  test('the alert says so, and what the plan does about it', () => {
    expect(sharedBreachText(line({}), NAMES, 'rollback')).toBe(
      'FAL is at 9.10 s too: the cause is probably shared — network, database, the app — and rolling back may not help. The plan rolls back all the same (onSharedBreach: "rollback").',
    );
    expect(sharedBreachText(line({ name: 'failureRatePercent', threshold: 2, fromValue: 3.1 }), NAMES, 'hold')).toBe(
      'FAL is at 3.10% too: the cause is probably shared — network, database, the app — and rolling back may not help. The plan holds instead of rolling back (onSharedBreach: "hold"); roll back by hand if Runware is still to blame.',
    );
    expect([rollsBackOn(false, 'hold'), rollsBackOn(true, 'hold'), rollsBackOn(true, 'rollback')]).toEqual([true, false, true]);
  });
});

describe('plan keys', () => {
  const plan = z.strictObject({ compare: compareSchema, onSharedBreach: onSharedBreachSchema });
  const issues = (input: unknown) => {
    const r = plan.safeParse(input);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  test('omitted keys take the defaults', () => {
    expect(plan.parse({})).toEqual({
      compare: { confidence: 0.95, failureMarginPp: 1, latencyMarginRatio: 1.1, minSamples: 200, requireNotWorse: false },
      onSharedBreach: 'rollback',
    });
    expect(COMPARE_DEFAULTS.minSamples).toBe(200);
    expect(plan.parse({ compare: { failureMarginPp: 0.5, requireNotWorse: true }, onSharedBreach: 'hold' }).compare).toMatchObject({
      failureMarginPp: 0.5,
      requireNotWorse: true,
      confidence: 0.95,
    });
  });

  test('bad values say what is expected', () => {
    expect(issues({ compare: { confidence: 95 } })).toEqual(['compare.confidence: must be below 1, like 0.95']);
    expect(issues({ compare: { latencyMarginRatio: 0.9 } })).toEqual(['compare.latencyMarginRatio: must be a ratio above 1, like 1.1']);
    expect(issues({ compare: { failureMarginPp: 0 } })).toEqual([
      'compare.failureMarginPp: must be a positive number of percentage points, like 1',
    ]);
    expect(issues({ compare: { minSamples: 10 } })).toEqual([
      'compare.minSamples: must be at least 30: the comparison leans on large-sample theory',
    ]);
    expect(issues({ onSharedBreach: 'pause' })).toEqual(['onSharedBreach: must be "rollback" or "hold"']);
    expect(issues({ compare: { margin: 1 } })[0]).toMatch(/^compare: .*margin/);
  });
});
