import { describe, expect, it } from 'vitest';
import { defaultPlan } from '../../src/plan/plan.ts';
import type { HealthReading } from '../../src/core/health.ts';
import type { StatusView } from '../../src/core/status.ts';
import { checklistItems } from '../../src/render/checklist.ts';
import { classify } from '../../src/slack/web.ts';

const plan = defaultPlan();
const d1 = plan.stages[0];
const start = new Date('2026-11-28T10:00:00Z');
const health = (weights: Record<string, number>, runwareOk = true): HealthReading => ({
  kind: 'read',
  weights,
  weightsProblem: null,
  checkedAt: '',
  providers: {
    fal: { ok: true, latencyMs: 125, error: null },
    runware: { ok: runwareOk, latencyMs: 98, error: runwareOk ? null : 'timeout' },
  },
});
const okLine = (name: 'p95LatencyMs' | 'failureRatePercent' | 'costPerImageRatio' | 'regenerateRatePercent') => ({
  evaluation: {
    name,
    state: 'ok' as const,
    value: 1,
    threshold: 2,
    windowMs: 300_000,
    samples: 60,
    candidateRequests: 60,
    fromValue: null,
  },
  heldMs: null,
  forMs: 300_000,
});

function status(minutes: number, over: Partial<StatusView> = {}): StatusView {
  return {
    at: new Date(start.getTime() + minutes * 60_000),
    run: null,
    state: 'd1',
    active: true,
    flag: { kind: 'ok', weights: { fal: 0.9, runware: 0.1 }, row: { flagValueText: '', description: '', updatedAt: null } },
    drift: null,
    health: health({ fal: 0.9, runware: 0.1 }),
    soak: null,
    lines: [okLine('p95LatencyMs'), okLine('failureRatePercent'), okLine('costPerImageRatio'), okLine('regenerateRatePercent')],
    guardEvaluatedAt: null,
    split: { total: 1000, shares: { fal: 0.9, runware: 0.1 }, counts: {}, windowMs: 600_000 },
    verdicts: null,
    pending: null,
    allowed: [],
    autoRollback: true,
    metricsError: null,
    ...over,
  };
}
const states = (r: ReturnType<typeof checklistItems>) => r.items.map((i) => i.state);

describe('the stage checklist ticks items from measurements', () => {
  it('is ready only when the soak is over and every item is green', () => {
    const half = checklistItems(plan, d1, start, status(30), { healthConfirmedAt: null });
    expect(states(half)).toEqual(['done', 'done', 'done', 'waiting', 'done', 'done', 'done', 'done']);
    expect(half.ready).toBe(false);
    expect(half.tracking.healthConfirmedAt).toBe('2026-11-28T10:30:00.000Z');
    const over = checklistItems(plan, d1, start, status(60), half.tracking);
    expect(over.ready).toBe(true);
    expect(over.items[1].text).toContain('confirmed 2026-11-28 10:30 UTC');
  });

  it('waits for the health endpoint for 2 minutes, then warns', () => {
    const stale = { health: health({ fal: 1, runware: 0 }) };
    expect(checklistItems(plan, d1, start, status(1, stale), { healthConfirmedAt: null }).items[1].state).toBe('waiting');
    const late = checklistItems(plan, d1, start, status(3, stale), { healthConfirmedAt: null });
    expect(late.items[1]).toEqual({
      state: 'warning',
      text: expect.stringContaining('not confirmed 3m after the change (expected within 2m)'),
    });
    expect(
      checklistItems(plan, d1, start, status(61, { health: health({ fal: 0.9, runware: 0.1 }, false) }), { healthConfirmedAt: null }).ready,
    ).toBe(false);
  });

  it('does not judge the split while its window still holds traffic from before the stage', () => {
    const split = { total: 1000, shares: { fal: 0.97, runware: 0.03 }, counts: {}, windowMs: 600_000 };
    expect(checklistItems(plan, d1, start, status(5, { split }), { healthConfirmedAt: null }).items[2].state).toBe('waiting');
    expect(checklistItems(plan, d1, start, status(15, { split }), { healthConfirmedAt: null }).items[2].state).toBe('warning');
  });

  it('shows a breach and a hand-edited flag as failed', () => {
    const breach = {
      ...okLine('p95LatencyMs'),
      evaluation: { ...okLine('p95LatencyMs').evaluation, state: 'breach' as const, value: 9000 },
      heldMs: 60_000,
    };
    const r = checklistItems(
      plan,
      d1,
      start,
      status(90, {
        lines: [breach],
        flag: { kind: 'ok', weights: { fal: 0.7, runware: 0.3 }, row: { flagValueText: '', description: '', updatedAt: null } },
      }),
      { healthConfirmedAt: null },
    );
    expect(r.items[0].state).toBe('failed');
    expect(r.items.at(-1)).toMatchObject({ state: 'failed', text: expect.stringContaining('BREACH for 1m of 5m') });
    // The red line's item carries both providers for the Block Kit fields.
    expect(r.items.at(-1)?.row).toMatchObject({
      to: { value: '9.00 s', n: '60' },
      from: { value: '—', n: '—' },
      state: 'BREACH for 1m of 5m',
    });
    expect(r.ready).toBe(false);
  });
});

describe('Slack Web API failures', () => {
  it('429 carries Retry-After to the outbox; 5xx and network errors retry with backoff; bad payloads do not block', () => {
    expect(classify({ code: 'slack_webapi_rate_limited_error', retryAfter: 30 })).toMatchObject({
      kind: 'retry',
      error: { retryAfterMs: 30_000 },
    });
    expect(classify({ code: 'slack_webapi_http_error', statusCode: 503 })).toMatchObject({
      kind: 'retry',
      error: { retryAfterMs: null, message: 'Slack answered HTTP 503' },
    });
    expect(classify({ code: 'slack_webapi_request_error', message: 'ECONNRESET' })).toMatchObject({ kind: 'retry' });
    expect(classify({ code: 'slack_webapi_platform_error', data: { error: 'invalid_blocks' } })).toEqual({
      kind: 'bad_payload',
      code: 'invalid_blocks',
    });
    expect(classify({ code: 'slack_webapi_platform_error', data: { error: 'message_not_found' } })).toEqual({
      kind: 'gone',
      code: 'message_not_found',
    });
    expect(classify({ code: 'slack_webapi_platform_error', data: { error: 'channel_not_found' } })).toMatchObject({ kind: 'retry' });
  });
});
