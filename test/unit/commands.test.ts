import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/core/commands.ts';
import { defaultPlan } from '../../src/plan/plan.ts';

const plan = defaultPlan();
const parse = (text: string) => parseCommand(plan, text);

describe('the command grammar', () => {
  it.each([
    ['', { kind: 'status' }],
    ['status', { kind: 'status' }],
    ['  STATUS  ', { kind: 'status' }],
    ['D2', { kind: 'promote', stage: 'd2', force: false }],
    ['d3   --FORCE', { kind: 'promote', stage: 'd3', force: true }],
    ['approve', { kind: 'approve', requestId: null }],
    ['approve #12', { kind: 'approve', requestId: 12 }],
    ['reject 4 not during the sale', { kind: 'reject', requestId: 4, reason: 'not during the sale' }],
    ['reject too risky', { kind: 'reject', requestId: null, reason: 'too risky' }],
    ['rollback', { kind: 'rollback', reason: null }],
    ['Rollback  Runware 5xx in EU', { kind: 'rollback', reason: 'Runware 5xx in EU' }],
    ['rollback --reason "latency spike"', { kind: 'rollback', reason: 'latency spike' }],
    ['rollback 画像が壊れている', { kind: 'rollback', reason: '画像が壊れている' }],
    ['history', { kind: 'history', limit: 10 }],
    ['history 25', { kind: 'history', limit: 25 }],
    ['complete', { kind: 'complete' }],
    ['help', { kind: 'help' }],
    ['backtest 24h', { kind: 'backtest', sinceMs: 86_400_000 }],
    ['backtest --since 7d', { kind: 'backtest', sinceMs: 7 * 86_400_000 }],
    ['backtest', { kind: 'backtest', sinceMs: 86_400_000 }],
    ['backtest 30m', null],
    ['backtest 31d', null],
  ])('%j', (text, command) => {
    const r = parse(text);
    if (command === null) expect(r.ok).toBe(false);
    else expect(r).toEqual({ ok: true, command });
  });

  it.each([
    ['d4', '"d4" is not a command'],
    ['deploy d2', '"deploy" is not a command'],
    ['d2 --yolo', '"d2" takes only --force (got "--yolo")'],
    ['status please', '"status" takes no arguments'],
    ['history 0', 'history takes an optional count from 1 to 50'],
    ['history lots', 'history takes an optional count'],
    ['approve twelve', 'approve takes an optional request number'],
    ['x'.repeat(501), 'the limit is 500'],
    ['rollback \u0000now', 'control or invisible characters'],
    ['d2\u001b[31m', 'control or invisible characters'],
    ['d\u200b2', 'control or invisible characters'],
    ['rollback \u202eevil', 'control or invisible characters'],
  ])('refuses %j', (text, problem) => {
    const r = parse(text);
    expect(r.ok).toBe(false);
    expect((r as { problem: string }).problem).toContain(problem);
  });

  it('clips very long reasons instead of storing them whole', () => {
    const r = parse(`rollback ${'why '.repeat(110)}`);
    expect(r.ok && r.command.kind === 'rollback' && r.command.reason!.length).toBe(300);
  });
});
