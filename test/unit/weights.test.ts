import { describe, expect, it } from 'vitest';
import { readFlag, weightsDescription, weightsText } from '../../src/core/weights.ts';
import { parseHealth } from '../../src/adapters/health-endpoint.ts';
import { defaultPlan } from '../../src/plan/plan.ts';

const plan = defaultPlan();
const row = (flagValueText: string | null) => ({ flagValueText, description: null, updatedAt: null });

describe('the weights flag', () => {
  it('writes the seed text and descriptions exactly', () => {
    expect(plan.stages.map((s) => weightsText(plan, s.weights))).toEqual([
      '{"fal":0.9,"runware":0.1}',
      '{"fal":0.5,"runware":0.5}',
      '{"fal":0.0,"runware":1.0}',
    ]);
    expect(weightsText(plan, { runware: 0, fal: 1 })).toBe('{"fal":1.0,"runware":0.0}');
    expect(weightsDescription(plan, plan.stages[2].weights, { stage: 'd3' })).toBe('Provider weights: 0% FAL, 100% Runware (D3)');
    // The runbook's exact strings: an automatic rollback is "(Rollback)", one by a person "(Manual Rollback)".
    expect(weightsDescription(plan, plan.rollbackWeights, 'Rollback')).toBe('Provider weights: 100% FAL, 0% Runware (Rollback)');
    expect(weightsDescription(plan, plan.rollbackWeights, 'Manual Rollback')).toBe(
      'Provider weights: 100% FAL, 0% Runware (Manual Rollback)',
    );
  });

  it.each([
    [null, 'missing'],
    ['{"fal":0.9,"runware":0.1}', 'ok'],
    ['{"runware":0.1,"fal":0.9}', 'ok'],
    ['{"fal":0.9,"runware":0.2}', 'flag_value_text "{\\"fal\\":0.9,\\"runware\\":0.2}": weights must sum to 1 (got 1.1)'],
    ['', 'flag_value_text is empty'],
    ['not json', 'flag_value_text is not JSON: "not json"'],
    ['[0.9,0.1]', 'weights must be an object'],
    ['{"fal":"0.9","runware":"0.1"}', 'weight "fal" must be a finite number (got "0.9")'],
    ['{"fal":0.9}', 'weights must name exactly "fal" and "runware" (got "fal")'],
    ['{"fal":0.9,"runware":0.1,"x":0}', 'weights must name exactly'],
    ['{"fal":1.5,"runware":-0.5}', 'must be between 0 and 1'],
    ['null', 'weights must be an object'],
  ])('reads %j as %s', (text, expected) => {
    const r = readFlag(plan, text === null ? null : row(text));
    if (expected === 'missing' || expected === 'ok') expect(r.kind).toBe(expected);
    else {
      expect(r.kind).toBe('malformed');
      expect((r as { problem: string }).problem).toContain(expected);
    }
  });
});

describe('the health endpoint answer', () => {
  const at = '2026-11-28T10:00:00Z';
  it('reads the seed example', () => {
    const body = {
      providers: {
        fal: { ok: true, latency_ms: 125, error: null, configured: true },
        runware: { ok: true, latency_ms: 98, error: null, configured: true, deprecated: true },
        config: { primary: 'fal', weights: { fal: 0.9, runware: 0.1 } },
      },
    };
    expect(parseHealth(plan, JSON.stringify(body), at)).toEqual({
      kind: 'read',
      checkedAt: at,
      weightsProblem: null,
      weights: { fal: 0.9, runware: 0.1 },
      providers: { fal: { ok: true, latencyMs: 125, error: null }, runware: { ok: true, latencyMs: 98, error: null } },
    });
  });
  it.each([
    ['<html>502 Bad Gateway</html>', 'invalid'],
    ['{"status":"ok"}', 'invalid'],
    ['{"providers":{"fal":{"ok":"yes"},"config":{"weights":{"fal":2}}}}', 'read'],
  ])('never trusts garbage: %j', (text, kind) => {
    const r = parseHealth(plan, text, at);
    expect(r.kind).toBe(kind);
    if (r.kind === 'read') expect(r).toMatchObject({ weights: null, providers: {} });
  });
});

describe('shadow mode is said in every alert', () => {
  it('adds the note to alerts that do not say it themselves, and not to reports', async () => {
    const { renderEvent } = await import('../../src/render/text.ts');
    const { parsePlan } = await import('../../src/plan/plan.ts');
    const seed = (await import('../../src/plan/default-plan.json', { with: { type: 'json' } })).default;
    const shadow = parsePlan({ ...structuredClone(seed), autoRollback: false });
    const at = '2026-11-28T10:00:00.000Z';
    const drift = {
      kind: 'flag_drift',
      runId: 1,
      stage: 'd1',
      expected: { fal: 0.9, runware: 0.1 },
      found: 'x',
      problem: 'not JSON',
      at,
    } as const;
    expect(renderEvent(shadow, drift)).toContain('Shadow mode: the guard alerts only and never writes the flag.');
    expect(renderEvent(plan, drift)).not.toContain('Shadow mode');
    const guardError = { kind: 'guard_error', runId: 1, stage: 'd1', message: 'boom', at } as const;
    expect(renderEvent(shadow, guardError)).toContain('Shadow mode');
  });
});
