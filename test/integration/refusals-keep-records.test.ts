import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { alice, bob, carol, engine, outboxKinds, planWith, soakHealthy } from '../support/engine.ts';
import { HOUR, MINUTE } from '../support/clock.ts';
import { guardCycle } from '../../src/engine/guard.ts';

// A refusal that records something (an expiry, a stale request, its own audit row) commits what
// it recorded: the request is stored as such, its message is told, and the next request is accepted.
let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

const requests = async () => (await db.app.query('SELECT id, status, decided_by, decision_note FROM rollout.requests ORDER BY id')).rows;
const updatesOf = async (id: number) =>
  (
    await db.app.query(
      `SELECT payload->'request'->>'status' AS status FROM rollout.outbox WHERE kind = 'request_updated' AND (payload->'request'->>'id')::int = $1 ORDER BY id`,
      [id],
    )
  ).rows.map((r) => r.status);

describe('a refusal keeps what it recorded', () => {
  it('approving an expired request stores it as expired, tells its message, audits the refusal, and a new request is accepted', async () => {
    const { service, clock } = engine(db);
    await service.handle('d1', alice);
    clock.advance(HOUR + MINUTE);
    const late = await service.handle('approve', bob);
    expect(late.outcome).toMatchObject({ kind: 'refused', code: 'expired' });
    expect(await requests()).toEqual([
      { id: 1, status: 'expired', decided_by: 'guard', decision_note: 'expired after 1h without enough approvals' },
    ]);
    expect(await updatesOf(1)).toEqual(['expired']);
    const audit = (await db.app.query(`SELECT actor, action, outcome, detail->>'code' AS code FROM rollout.audit ORDER BY id`)).rows;
    expect(audit).toEqual([
      { actor: alice.id, action: 'request', outcome: 'done', code: null },
      { actor: 'guard', action: 'expire', outcome: 'done', code: null },
      { actor: bob.id, action: 'approve', outcome: 'refused', code: 'expired' },
    ]);
    expect((await service.handle('d1', alice)).outcome).toMatchObject({ kind: 'requested', request: { id: 2 } });
    expect((await service.handle('approve', bob)).outcome).toMatchObject({ kind: 'stage_started', stage: 'd1' });
  });

  it('a new request replaces an expired one nobody decided', async () => {
    const { service, clock } = engine(db);
    await service.handle('d1', alice);
    clock.advance(2 * HOUR);
    expect((await service.handle('d1', carol)).outcome).toMatchObject({ kind: 'requested', request: { id: 2, requestedBy: carol.id } });
    expect((await requests()).map((r) => r.status)).toEqual(['expired', 'pending']);
    expect(await updatesOf(1)).toEqual(['expired']);
  });

  it('the leader expires an open request once it is older than requestTtl, even if nobody clicks', async () => {
    const { service, clock } = engine(db);
    await service.handle('d1', alice);
    clock.advance(59 * MINUTE);
    expect(await service.expireRequests()).toBe(false);
    clock.advance(2 * MINUTE);
    expect(await service.expireRequests()).toBe(true);
    expect(await service.expireRequests()).toBe(false);
    expect((await requests()).map((r) => r.status)).toEqual(['expired']);
    expect(await updatesOf(1)).toEqual(['expired']);
  });

  it('approving a request the rollout moved past stores it as stale and tells its message', async () => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 1 }) });
    await service.handle('d1', alice);
    await service.handle('approve', bob);
    await soakHealthy(db, service, clock, HOUR);
    await service.handle('d2', alice);
    // The run moves on without the request: a rollback straight in the table, as a crashed
    // transaction on an older version could have left it.
    await db.app.query(`UPDATE rollout.runs SET state = 'rolled_back'`);
    const r = await service.handle('approve', carol);
    expect(r.outcome).toMatchObject({ kind: 'refused', code: 'stale' });
    expect((await requests()).map((q) => q.status)).toEqual(['approved', 'stale']);
    expect(await updatesOf(2)).toEqual(['stale']);
  });

  it('a rollback done by hand in SQL makes the open request stale, and its message loses its buttons', async () => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 1 }) });
    await service.handle('d1', alice);
    await service.handle('approve', bob);
    await soakHealthy(db, service, clock, HOUR);
    await service.handle('d2', alice);
    await db.app.query(
      `UPDATE feature_flags SET flag_value_text = '{"fal":1.0,"runware":0.0}', description = 'Provider weights: 100% FAL, 0% Runware (Manual Rollback)', updated_at = NOW()`,
    );
    clock.advance(30_000);
    expect(await guardCycle(service)).toEqual({ kind: 'adopted_manual_rollback' });
    expect((await requests()).map((q) => [q.status, q.decision_note])).toEqual([
      ['approved', null],
      ['stale', 'the flag was set to the rollback weights by hand'],
    ]);
    expect(await updatesOf(2)).toEqual(['stale']);
    expect(await outboxKinds(db)).toContain('manual_rollback');
    expect((await service.handle('d1', alice)).outcome).toMatchObject({ kind: 'requested' });
  });
});
