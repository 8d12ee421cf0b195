import { describe, expect, it } from 'vitest';
import { allowedNow, checkComplete, checkPromotion, checkRollback, soakLeftMs } from '../../src/core/state-machine.ts';
import { defaultPlan } from '../../src/plan/plan.ts';

const plan = defaultPlan();
const t0 = new Date('2026-11-28T10:00:00Z');
const at = (min: number) => new Date(t0.getTime() + min * 60_000);
const pos = (state: string, startedMin = 0) => ({ state, stageStartedAt: at(startedMin) });

describe('the state machine', () => {
  it.each([
    // [current, target, minutes into the stage, force, result]
    [null, 'd1', 0, false, 'ok'],
    [null, 'd2', 0, false, 'skip'],
    [null, 'd3', 0, true, 'skip'],
    ['d1', 'd1', 90, false, 'same_stage'],
    ['d1', 'd2', 30, false, 'soak'],
    ['d1', 'd2', 30, true, 'ok'],
    ['d1', 'd2', 60, false, 'ok'],
    ['d1', 'd3', 600, false, 'skip'],
    ['d2', 'd3', 179, false, 'soak'],
    ['d2', 'd3', 180, false, 'ok'],
    ['d2', 'd1', 500, false, 'skip'],
    ['d3', 'd1', 500, false, 'skip'],
    ['rolled_back', 'd1', 0, false, 'ok'],
    ['rolled_back', 'd2', 0, false, 'skip'],
    ['complete', 'd1', 0, false, 'skip'],
  ])('from %s to %s after %i min (force %s): %s', (state, target, minutes, force, expected) => {
    const r = checkPromotion(plan, state ? pos(state) : null, target, at(minutes), force);
    expect(r.ok ? 'ok' : r.code).toBe(expected);
  });

  it('a soak refusal says how long is left and how to force', () => {
    const r = checkPromotion(plan, pos('d1'), 'd2', at(35), false);
    expect(r).toMatchObject({ ok: false, message: 'd1 has soaked 35m of 1h; 25m left. Wait, or add --force (audited).' });
  });

  it('a skip refusal says what is allowed now', () => {
    const r = checkPromotion(plan, pos('d1'), 'd3', at(10), false);
    expect(r).toMatchObject({
      ok: false,
      message: 'Cannot go to d3: d1 is active, and stages go in order. Allowed now: d2 after the soak (50m left, or --force), rollback.',
    });
  });

  it('lists what may be done next in every state', () => {
    expect(allowedNow(plan, null, t0)).toEqual(['d1']);
    expect(allowedNow(plan, pos('d2'), at(200))).toEqual(['d3', 'rollback']);
    expect(allowedNow(plan, pos('d3'), at(10))).toEqual(['complete', 'rollback']);
    expect(allowedNow(plan, pos('complete'), at(10))).toEqual(['rollback']);
    expect(allowedNow(plan, pos('rolled_back'), at(10))).toEqual(['d1']);
  });

  it('complete only after the last stage; rollback from any active stage or after complete', () => {
    expect(checkComplete(plan, pos('d2')).ok).toBe(false);
    expect(checkComplete(plan, pos('d3')).ok).toBe(true);
    expect(checkRollback(plan, null).ok).toBe(false);
    expect(checkRollback(plan, pos('rolled_back')).ok).toBe(false);
    for (const s of ['d1', 'd2', 'd3', 'complete']) expect(checkRollback(plan, pos(s)).ok).toBe(true);
    expect(soakLeftMs(plan, pos('d3'), at(10_000))).toBe(0);
  });
});
