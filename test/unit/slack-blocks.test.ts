import { describe, expect, it } from 'vitest';
import { defaultPlan } from '../../src/plan/plan.ts';
import type { RolloutEvent } from '../../src/core/events.ts';
import type { LineEvaluation } from '../../src/core/red-lines.ts';
import { approvalMessage } from '../../src/render/blocks/approval.ts';
import { ACTION, decisionValue, encodeValue, parseValue, rollbackValue } from '../../src/render/blocks/buttons.ts';
import { button, confirm, esc, section, who } from '../../src/render/blocks/common.ts';
import { eventMessage } from '../../src/render/blocks/events.ts';
import { BlockLimitError, fitMessage, LIMITS, type Block, type Message } from '../../src/render/blocks/limits.ts';

const plan = defaultPlan();

/** Every text in a message, with the limit it must respect. */
function violations(m: Message): string[] {
  const out: string[] = [];
  const check = (what: string, text: string, max: number) => text.length > max && out.push(`${what}: ${text.length} > ${max}`);
  if (!m.text) out.push('no fallback text');
  check('text', m.text, LIMITS.fallbackText);
  if (m.blocks.length > LIMITS.blocks) out.push(`${m.blocks.length} blocks`);
  for (const b of m.blocks) {
    if (b.type === 'section' && b.text) check('section', b.text.text, LIMITS.sectionText);
    if (b.type === 'context') for (const e of b.elements) check('context', e.text, LIMITS.contextText);
    if (b.type === 'actions') {
      for (const e of b.elements) {
        check('button', e.text.text, LIMITS.buttonText);
        check('value', e.value, LIMITS.buttonValue);
        if (e.confirm) {
          check('confirm title', e.confirm.title.text, LIMITS.confirmTitle);
          check('confirm text', e.confirm.text.text, LIMITS.confirmText);
        }
      }
    }
  }
  return out;
}

describe('fitMessage keeps every message inside Block Kit limits', () => {
  it('clips long texts, keeping their start and marking the cut', () => {
    const long = 'x'.repeat(5000);
    const m = fitMessage({
      text: long,
      blocks: [
        section(long),
        { type: 'context', elements: [{ type: 'mrkdwn', text: long }] },
        { type: 'actions', elements: [button(long, 'a', 'v', { confirm: confirm(long, long, long) })] },
      ],
    });
    expect(violations(m)).toEqual([]);
    expect((m.blocks[0] as any).text.text).toHaveLength(LIMITS.sectionText);
    expect((m.blocks[0] as any).text.text.endsWith('x…')).toBe(true);
    const b = (m.blocks[2] as any).elements[0];
    expect([b.text.text.length, b.confirm.title.text.length, b.confirm.text.text.length, b.confirm.confirm.text.length]).toEqual([
      75, 100, 300, 30,
    ]);
  });

  it('drops blocks past 50 and says how many were left out', () => {
    const blocks: Block[] = Array.from({ length: 60 }, (_, i) => section(`line ${i}`));
    const m = fitMessage({ text: 't', blocks });
    expect(m.blocks).toHaveLength(50);
    expect((m.blocks[49] as any).elements[0].text).toBe('…11 more not shown; see `/rollout status`.');
  });

  it('refuses an oversized button value instead of corrupting it', () => {
    expect(() => fitMessage({ text: 't', blocks: [{ type: 'actions', elements: [button('b', 'a', 'v'.repeat(2001))] }] })).toThrow(
      BlockLimitError,
    );
  });

  it('leaves a message that fits unchanged', () => {
    const m: Message = { text: 'ok', blocks: [section('short')] };
    expect(fitMessage(m)).toEqual(m);
  });
});

describe('button values', () => {
  it('round-trip, and anything else is refused', () => {
    const v = { request: 3, run: null, stage: 'd1' };
    expect(parseValue(decisionValue, encodeValue(v))).toEqual(v);
    for (const bad of [
      '',
      'null',
      '{}',
      '[]',
      '{"request":3,"run":null}',
      '{"request":-1,"run":null,"stage":"d1"}',
      '{"request":3,"run":null,"stage":"D1; drop"}',
      '{"request":3,"run":null,"stage":"d1","admin":true}',
      '{"request":"3","run":null,"stage":"d1"}',
      'x'.repeat(3000),
      undefined,
      42,
    ]) {
      expect(parseValue(decisionValue, bad)).toBeNull();
    }
    expect(parseValue(rollbackValue, '{"run":1,"stage":"d2"}')).toEqual({ run: 1, stage: 'd2' });
  });
});

describe('mrkdwn safety', () => {
  it('escapes what people typed and turns user IDs into mentions', () => {
    expect(esc('<!channel> & <@U1>')).toBe('&lt;!channel&gt; &amp; &lt;@U1&gt;');
    expect(who('U_BOB')).toBe('<@U_BOB>');
    expect(who('guard')).toBe('the guard');
    expect(who('<!here>')).toBe('&lt;!here&gt;');
  });
});

const line = (over: Partial<LineEvaluation> = {}): LineEvaluation => ({
  name: 'p95LatencyMs',
  state: 'breach',
  value: 9_000,
  threshold: 8_000,
  windowMs: 300_000,
  samples: 250,
  candidateRequests: 250,
  fromValue: 3_100,
  ...over,
});
const at = '2026-11-28T11:06:00.000Z';
const request = {
  id: 4,
  runId: 1,
  fromState: 'd2',
  toStage: 'd3',
  forced: false,
  requestedBy: 'U_ALICE',
  requestedAt: at,
  status: 'pending' as const,
  approvals: [],
  decidedBy: null,
  decidedAt: null,
  decisionNote: null,
};

describe('renderers', () => {
  it('D3 approval asks for confirmation; earlier stages do not', () => {
    const opened = {
      kind: 'request_opened' as const,
      request,
      fromWeights: { fal: 0.5, runware: 0.5 },
      toWeights: { fal: 0, runware: 1 },
      needed: 1,
      soakDone: true,
      lines: [line({ state: 'ok', value: 2_000 })],
    };
    const m = approvalMessage(plan, opened, request, 1);
    const approve = (m.blocks.find((b) => b.type === 'actions') as any).elements.find((e: any) => e.action_id === ACTION.approve);
    expect(approve.confirm.title.text).toBe('Approve D3?');
    expect(approve.confirm.text.text).toBe('This sends *all* traffic to Runware: FAL 0% / Runware 100%.');
    expect(violations(m)).toEqual([]);
    const d2 = approvalMessage(plan, { ...opened, request: { ...request, toStage: 'd2' } }, { ...request, toStage: 'd2' }, 1);
    expect((d2.blocks.find((b) => b.type === 'actions') as any).elements[0].confirm).toBeUndefined();
  });

  it("an auto-rollback's next step points at what its red line measures", () => {
    const next = (name: LineEvaluation['name']) => {
      const m = eventMessage(plan, {
        kind: 'auto_rollback',
        runId: 1,
        stage: 'd2',
        line: line({ name }),
        heldMs: 600_000,
        others: [],
        weights: { fal: 1, runware: 0 },
        shadow: false,
        at,
      });
      return JSON.stringify(m.blocks.at(-1));
    };
    expect(next('p95LatencyMs')).toContain("Runware's slow requests");
    expect(next('failureRatePercent')).toContain("Runware's errors");
    expect(next('costPerImageRatio')).toContain("Runware's cost per image with the baseline");
    expect(next('regenerateRatePercent')).toContain('why users regenerate');
    expect(next('costPerImageRatio')).toContain('/rollout d1');
  });

  it('every event renders with a fallback text, inside the limits, even with a 300-character reason', () => {
    const reason = '<script> '.repeat(40);
    const events: RolloutEvent[] = [
      { kind: 'breach_started', runId: 1, stage: 'd2', line: line(), forMs: 300_000, at, shadow: false },
      { kind: 'breach_started', runId: 1, stage: 'd2', line: line(), forMs: 300_000, at, shadow: true },
      {
        kind: 'breach_recovered',
        runId: 1,
        stage: 'd2',
        line: line({ state: 'ok', value: 3_000 }),
        breachSince: '2026-11-28T11:02:00.000Z',
        at,
      },
      {
        kind: 'auto_rollback',
        runId: 1,
        stage: 'd2',
        line: line(),
        heldMs: 300_000,
        others: ['failureRatePercent'],
        weights: { fal: 1, runware: 0 },
        shadow: false,
        at,
      },
      {
        kind: 'auto_rollback',
        runId: 1,
        stage: 'd2',
        line: line(),
        heldMs: 300_000,
        others: [],
        weights: { fal: 1, runware: 0 },
        shadow: true,
        at,
      },
      {
        kind: 'manual_rollback',
        runId: 1,
        stage: 'd2',
        by: 'U_CAROL',
        via: 'slack',
        reason,
        weights: { fal: 1, runware: 0 },
        byHand: false,
        at,
      },
      {
        kind: 'manual_rollback',
        runId: 1,
        stage: 'd2',
        by: 'unknown',
        via: 'flag',
        reason: 'flag reads rollback weights',
        weights: { fal: 1, runware: 0 },
        byHand: true,
        at,
      },
      { kind: 'no_traffic', runId: 1, stage: 'd1', provider: 'runware', weight: 0.1, candidateRequests: 3, thinForMs: 600_000, at },
      { kind: 'traffic_restored', runId: 1, stage: 'd1', provider: 'runware', at },
      {
        kind: 'flag_drift',
        runId: 1,
        stage: 'd1',
        expected: { fal: 0.9, runware: 0.1 },
        found: '{"fal":0.7,"runware":0.3}',
        problem: null,
        at,
      },
      { kind: 'guard_error', runId: 1, stage: 'd1', message: reason, at },
      { kind: 'guard_recovered', runId: 1, stage: 'd1', at },
      { kind: 'completed', runId: 1, by: 'U_BOB', at },
    ];
    for (const e of events) {
      const m = eventMessage(plan, e as Parameters<typeof eventMessage>[1]);
      expect(violations(m), e.kind).toEqual([]);
      expect(JSON.stringify(m.blocks)).not.toContain('<script>');
    }
    const manual = eventMessage(plan, events[5] as Parameters<typeof eventMessage>[1]);
    expect(JSON.stringify(manual.blocks)).toContain('&lt;script&gt;');
  });
});
