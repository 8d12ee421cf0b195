import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { alice, bob, carol, engine, flagRow, mallory, outboxKinds, planWith, soakHealthy } from '../support/engine.ts';
import { HOUR, MINUTE } from '../support/clock.ts';
import { guardCycle } from '../../src/engine/guard.ts';
import { renderOutcome } from '../../src/render/text.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

describe('stage transitions with the two-person rule', () => {
  it('a request waits for another admin, then writes the flag the way the seed does', async () => {
    const { service } = engine(db);
    const asked = await service.handle('d1', alice);
    expect(asked.outcome).toMatchObject({ kind: 'requested', request: { toStage: 'd1', requestedBy: alice.id, status: 'pending' } });
    expect(await flagRow(db)).toBeNull();

    const self = await service.handle('approve', alice);
    expect(self.outcome).toMatchObject({ kind: 'refused', code: 'self_approval' });

    const approved = await service.handle('approve', bob);
    expect(approved.outcome).toMatchObject({ kind: 'stage_started', stage: 'd1', approvers: [bob.id] });
    expect(await flagRow(db)).toEqual({
      flag_value: false,
      flag_value_text: '{"fal":0.9,"runware":0.1}',
      description: 'Provider weights: 90% FAL, 10% Runware (D1)',
    });
    expect(await outboxKinds(db)).toEqual(['request_opened', 'request_updated', 'stage_started']);
  });

  it('refuses a skip and says what is allowed now', async () => {
    const { service } = engine(db);
    const r = await service.handle('d2', alice);
    expect(r.outcome).toMatchObject({ kind: 'refused', code: 'skip' });
    expect((r.outcome as { message: string }).message).toContain('Allowed now: d1');
  });

  it('refuses promotion before the soak is over, with the time left, unless forced', async () => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 0 }) });
    await service.handle('d1', alice);
    clock.advance(20 * MINUTE);
    const early = await service.handle('d2', alice);
    expect(early.outcome).toMatchObject({ kind: 'refused', code: 'soak' });
    expect((early.outcome as { message: string }).message).toContain('40m left');
    const forced = await service.handle('d2 --force', alice);
    expect(forced.outcome).toMatchObject({ kind: 'stage_started', stage: 'd2', forced: true });
    expect((await flagRow(db)).description).toBe('Provider weights: 50% FAL, 50% Runware (D2)');
    const { rows } = await db.app.query(
      `SELECT action, outcome, detail->>'forced' AS forced FROM rollout.audit WHERE action = 'transition' ORDER BY id`,
    );
    expect(rows).toEqual([
      { action: 'transition', outcome: 'done', forced: 'false' },
      { action: 'transition', outcome: 'done', forced: 'true' },
    ]);
  });

  it('walks d1 → d2 → d3 → complete and writes the seed descriptions', async () => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 0 }) });
    const descriptions: string[] = [];
    for (const [cmd, wait] of [
      ['d1', HOUR],
      ['d2', 3 * HOUR],
      ['d3', 0],
    ] as const) {
      expect((await service.handle(cmd, alice)).outcome.kind).toBe('stage_started');
      descriptions.push((await flagRow(db)).description);
      await soakHealthy(db, service, clock, wait);
    }
    expect((await service.handle('complete', bob)).outcome.kind).toBe('completed');
    expect(descriptions).toEqual([
      'Provider weights: 90% FAL, 10% Runware (D1)',
      'Provider weights: 50% FAL, 50% Runware (D2)',
      'Provider weights: 0% FAL, 100% Runware (D3)',
    ]);
    expect((await flagRow(db)).flag_value_text).toBe('{"fal":0.0,"runware":1.0}');
    expect((await service.handle('d1', alice)).outcome).toMatchObject({ kind: 'refused', code: 'skip' });
  });

  it('will not promote a stage whose red lines had nothing to judge, unless forced', async () => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 0 }) });
    await service.handle('d1', alice);
    clock.advance(HOUR);
    const unwatched = await service.handle('d2', alice);
    expect(unwatched.outcome).toMatchObject({ kind: 'refused', code: 'unwatched' });
    expect(renderOutcome(service.plan, unwatched.outcome)).toContain('Nobody is watching: the guard has not evaluated D1 yet');
    await guardCycle(service);
    const thin = (await service.handle('d2', alice)).outcome;
    expect(thin).toMatchObject({ kind: 'refused', code: 'no_evidence' });
    expect(renderOutcome(service.plan, thin)).toContain(
      'p95 latency is no data (0 Runware requests in the window, fewer than minSamples 50): check that traffic reaches Runware',
    );
    expect((await flagRow(db)).flag_value_text).toBe('{"fal":0.9,"runware":0.1}');
    expect((await service.handle('d2 --force', alice)).outcome.kind).toBe('stage_started');
    await soakHealthy(db, service, clock, 3 * HOUR);
    expect((await service.handle('d3', alice)).outcome.kind).toBe('stage_started');
  });

  it('rolls back without approval, and only d1 may follow', async () => {
    const { service } = engine(db, { plan: planWith({ approvals: 0 }) });
    await service.handle('d1', alice);
    const r = await service.handle('rollback  Runware errors in eu-west', carol);
    expect(r.outcome).toMatchObject({ kind: 'rolled_back', reason: 'Runware errors in eu-west' });
    expect(await flagRow(db)).toMatchObject({
      flag_value_text: '{"fal":1.0,"runware":0.0}',
      description: 'Provider weights: 100% FAL, 0% Runware (Manual Rollback)',
    });
    expect((await service.handle('d2', alice)).outcome).toMatchObject({ kind: 'refused', code: 'skip' });
    expect((await service.handle('rollback', alice)).outcome).toMatchObject({ kind: 'refused', code: 'not_active' });
    expect((await service.handle('d1', alice)).outcome.kind).toBe('stage_started');
  });

  it('refuses non-admins and records the refusal', async () => {
    const { service } = engine(db);
    const r = await service.handle('rollback', mallory);
    expect(r.outcome).toMatchObject({ kind: 'refused', code: 'not_admin' });
    const { rows } = await db.app.query('SELECT actor, action, outcome FROM rollout.audit');
    expect(rows).toEqual([{ actor: mallory.id, action: 'rollback', outcome: 'refused' }]);
    expect((await service.handle('status', mallory)).outcome.kind).toBe('status');
  });

  it('a second approval of a decided request says who won and changes nothing', async () => {
    const { service } = engine(db);
    const asked = await service.handle('d1', alice);
    const id = (asked.outcome as { request: { id: number } }).request.id;
    await service.handle(`approve ${id}`, bob);
    const again = await service.handle(`approve ${id}`, carol);
    expect(again.outcome).toMatchObject({ kind: 'refused', code: 'decided' });
    expect((again.outcome as { message: string }).message).toContain(`already approved by ${bob.id}`);
    const { rows } = await db.app.query(`SELECT count(*)::int AS n FROM rollout.audit WHERE action = 'transition'`);
    expect(rows[0].n).toBe(1);
  });
});
