import { describe, expect, it } from 'vitest';
import { advanceClocks, emptyClocks, type GuardClocks } from '../../src/core/breach-clock.ts';
import type { LineEvaluation, LineState } from '../../src/core/red-lines.ts';
import { defaultPlan, RED_LINES } from '../../src/plan/plan.ts';

const plan = defaultPlan();
const t0 = Date.parse('2026-11-28T10:00:00Z');

const evals = (failure: LineState, requests = 500): LineEvaluation[] =>
  RED_LINES.map((name) => ({
    name,
    state: name === 'failureRatePercent' ? failure : requests < 50 ? 'no_data' : 'ok',
    value: 1,
    threshold: 2,
    windowMs: plan.redLines[name].windowMs,
    samples: requests,
    candidateRequests: requests,
    fromValue: null,
  }));

/** Runs a sequence of failure-rate states, one per 30 s, and returns when (in s) it fired. */
function run(states: LineState[]): { firedAt: number[]; clocks: GuardClocks } {
  let clocks = emptyClocks();
  const firedAt: number[] = [];
  states.forEach((s, i) => {
    const step = advanceClocks(plan, clocks, evals(s), new Date(t0 + i * 30_000), 0.1);
    clocks = step.clocks;
    if (step.fired.length) firedAt.push(i * 30);
  });
  return { firedAt, clocks };
}

const repeat = (s: LineState, n: number) => Array<LineState>(n).fill(s);

describe('the breach clock (Prometheus for:)', () => {
  it('fires once a breach has held for the whole `for`, counted from the first breach evaluation', () => {
    expect(run(repeat('breach', 12)).firedAt).toEqual([300, 330]);
  });
  it('never fires on a breach shorter than `for`', () => {
    expect(run([...repeat('breach', 10), 'ok', ...repeat('breach', 10)]).firedAt).toEqual([]);
  });
  it('no data resets like ok', () => {
    expect(run([...repeat('breach', 10), 'no_data', ...repeat('breach', 10)]).firedAt).toEqual([]);
  });
  it('an error holds the clock: it neither resets nor hides the breach', () => {
    expect(run([...repeat('breach', 4), ...repeat('error', 4), ...repeat('breach', 3)]).firedAt).toEqual([300]);
    expect(run([...repeat('breach', 4), ...repeat('error', 8)]).firedAt).toEqual([]);
  });
  it('emits breach_started once and breach_recovered once', () => {
    let clocks = emptyClocks();
    const kinds: string[] = [];
    ['ok', 'breach', 'breach', 'ok', 'ok'].forEach((s, i) => {
      const step = advanceClocks(plan, clocks, evals(s as LineState), new Date(t0 + i * 30_000), 0.1);
      clocks = step.clocks;
      kinds.push(...step.events.map((e) => e.kind));
    });
    expect(kinds).toEqual(['breach_started', 'breach_recovered']);
  });
  it('alerts thin traffic once after the longest `for`, and not when the candidate has no weight', () => {
    const thin = (weight: number) => {
      let clocks = emptyClocks();
      const kinds: string[] = [];
      for (let i = 0; i <= 24; i++) {
        const step = advanceClocks(plan, clocks, evals('no_data', 3), new Date(t0 + i * 30_000), weight);
        clocks = step.clocks;
        kinds.push(...step.events.map((e) => `${i * 30}:${e.kind}`));
      }
      return kinds;
    };
    expect(thin(0.1)).toEqual(['630:no_traffic']);
    expect(thin(0)).toEqual([]);
  });
});
