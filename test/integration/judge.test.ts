import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { alice, engine, flagRow, planWith } from '../support/engine.ts';
import { MINUTE, SECOND, type TestClock } from '../support/clock.ts';
import { feed, type Health } from '../support/traffic.ts';
import { guardCycle } from '../../src/engine/guard.ts';
import type { GuardResult } from '../../src/engine/ports.ts';
import { renderEvent, renderOutcome } from '../../src/render/text.ts';
import type { RolloutService } from '../../src/engine/service.ts';
import type { RolloutEvent } from '../../src/core/events.ts';

// Runware judged against FAL in the windows the guard reads: the comparison is shown, a breach FAL
// shares is named (and may hold instead of rolling back), and "not worse" can gate promotion.
let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

const SLOW: Health = { perMinute: 120, latencyMs: 9_000, cost: 0.005 };
const HEALTHY: Health = { perMinute: 120, latencyMs: 1_500, cost: 0.005 };

async function step(service: RolloutService, clock: TestClock, runware: Health, fal: Health): Promise<GuardResult> {
  const from = clock.now();
  await feed(db.app, from, clock.advance(30 * SECOND), runware, fal);
  return guardCycle(service);
}

const events = async (kind: string): Promise<RolloutEvent[]> =>
  (await db.app.query('SELECT payload FROM rollout.outbox WHERE kind = $1 ORDER BY id', [kind])).rows.map((r) => r.payload);

describe('the judge', () => {
  it('a breach FAL shares is named in the breach and rollback alerts; by default the runbook still rolls back', async () => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 0, baselineCostPerImage: 0.005 }) });
    await service.handle('d1', alice);
    let r: GuardResult = { kind: 'idle' };
    for (let i = 0; i < 12 && r.kind !== 'rolled_back'; i++) r = await step(service, clock, SLOW, SLOW);
    expect(r.kind).toBe('rolled_back');
    const [breach] = await events('breach_started');
    expect(renderEvent(service.plan, breach)).toContain(
      'FAL is at 9.00 s too: the cause is probably shared — network, database, the app — and rolling back may not help. The plan rolls back all the same',
    );
    const [rollback] = await events('auto_rollback');
    expect(renderEvent(service.plan, rollback)).toContain('FAL is at 9.00 s too');
    expect(renderEvent(service.plan, rollback)).toMatch(/Runware vs FAL: p95 1\.00× FAL \[\d\.\d\d, \d\.\d\d\]/);
  });

  it('onSharedBreach "hold": no rollback, one loud alert, and the guard keeps evaluating', async () => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 0, baselineCostPerImage: 0.005, onSharedBreach: 'hold' }) });
    await service.handle('d1', alice);
    const results: string[] = [];
    for (let i = 0; i < 16; i++) results.push((await step(service, clock, SLOW, SLOW)).kind);
    expect(results).not.toContain('rolled_back');
    expect(results.at(-1)).toBe('evaluated');
    expect((await flagRow(db)).flag_value_text).toBe('{"fal":0.9,"runware":0.1}');
    const held = await events('shared_hold');
    expect(held).toHaveLength(1);
    expect(renderEvent(service.plan, held[0])).toContain('HOLDING at d1, not rolling back: p95 latency held in breach 5m');
    // Runware alone slow is not shared: it rolls back.
    let r: GuardResult = { kind: 'idle' };
    for (let i = 0; i < 14 && r.kind !== 'rolled_back'; i++) r = await step(service, clock, SLOW, HEALTHY);
    expect(r.kind).toBe('rolled_back');
  });

  it('status shows Runware against FAL with intervals, and the stage verdicts', async () => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 0, baselineCostPerImage: 0.005 }) });
    await service.handle('d1', alice);
    for (let i = 0; i < 12; i++) await step(service, clock, HEALTHY, { ...HEALTHY, perMinute: 600, failureShare: 0.01 });
    const status = renderOutcome(service.plan, (await service.handle('status', alice)).outcome);
    expect(status).toMatch(
      /Runware vs FAL: p95 1\.00× FAL \[[\d.]+, [\d.]+\] · failures −1\.0 pp \[−[\d.]+, [+−][\d.]+\] · cost 1\.00× FAL/,
    );
    expect(status).toContain('vouchers: no comparison');
    expect(status).toMatch(/Runware (not worse than|vs) FAL on failures/);
    expect(status).toMatch(/Runware (not worse than|vs) FAL on latency/);
  });

  it('compare.requireNotWorse: promotion waits for "not worse" on failures and latency', async () => {
    const { service, clock } = engine(db, {
      plan: planWith({ approvals: 0, baselineCostPerImage: 0.005, compare: { requireNotWorse: true, minSamples: 200 } }),
    });
    await service.handle('d1', alice);
    clock.advance(55 * MINUTE);
    await feed(
      db.app,
      new Date(clock.now().getTime() - 10 * MINUTE),
      clock.now(),
      { perMinute: 10, latencyMs: 1500, cost: 0.005 },
      { perMinute: 90, latencyMs: 1500, cost: 0.005 },
    );
    for (let i = 0; i < 10; i++)
      await step(service, clock, { perMinute: 10, latencyMs: 1500, cost: 0.005 }, { perMinute: 90, latencyMs: 1500, cost: 0.005 });
    const r = (await service.handle('d2', alice)).outcome;
    expect(r).toMatchObject({ kind: 'refused', code: 'not_proven' });
    expect((r as { message: string }).message).toContain('compare.requireNotWorse');
    expect((await service.handle('d2 --force', alice)).outcome.kind).toBe('stage_started');
  });
});
