import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { alice, bob, engine, flagRow } from '../support/engine.ts';
import { localActor } from '../../src/engine/access.ts';
import type { Outcome } from '../../src/core/outcomes.ts';

// Only identities someone verified count as approvers: Slack vouches for its user IDs; a name
// typed at the console or CLI is a claim, recorded next to the OS user and host, never trusted
// once ROLLOUT_ADMINS is set. Break-glass rollback, status and history always work locally.
let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

const laptop = { osUser: 'mallory', host: 'mallorys-laptop' };
const message = (o: Outcome) => (o as { message: string }).message;
const auditRows = async () =>
  (await db.app.query(`SELECT actor, via, action, outcome, os_user, host, claimed FROM rollout.audit ORDER BY id`)).rows;

describe('who may act from the console and the CLI', () => {
  it("typing an admin's Slack ID with --as does not make an approval", async () => {
    const { service } = engine(db, { admins: [alice.id, bob.id] });
    await service.handle('d1', alice);
    const r = (await service.handle('approve', localActor('cli', laptop, bob.id))).outcome;
    expect(r).toMatchObject({ kind: 'refused', code: 'not_admin' });
    expect(message(r)).toContain(`"${bob.id}" is a name typed here, which nobody verified`);
    expect(message(r)).toContain('mallory@mallorys-laptop');
    expect(await flagRow(db)).toBeNull();
    expect((await auditRows()).at(-1)).toEqual({
      actor: bob.id,
      via: 'cli',
      action: 'approve',
      outcome: 'refused',
      os_user: 'mallory',
      host: 'mallorys-laptop',
      claimed: bob.id,
    });
  });

  it('a local account named like a Slack ID is not that Slack user', async () => {
    const { service } = engine(db, { admins: [alice.id, 'UBOB123'] });
    await service.handle('d1', alice);
    const r = (await service.handle('approve', localActor('cli', { osUser: 'UBOB123', host: 'laptop' }, null))).outcome;
    expect(r).toMatchObject({ kind: 'refused', code: 'not_admin' });
  });

  it('rollback, status and history always work from the CLI, audited with the OS user and host', async () => {
    const { service } = engine(db, { admins: [alice.id, bob.id] });
    await service.handle('d1', alice);
    await service.handle('approve', bob);
    const cli = localActor('cli', laptop, 'U_ALICE');
    expect((await service.handle('status', cli)).outcome.kind).toBe('status');
    expect((await service.handle('history', cli)).outcome.kind).toBe('history');
    expect((await service.handle('rollback Runware down, chat down', cli)).outcome).toMatchObject({ kind: 'rolled_back' });
    expect((await flagRow(db)).description).toBe('Provider weights: 100% FAL, 0% Runware (Manual Rollback)');
    const rollback = (await auditRows()).find((r) => r.action === 'rollback');
    expect(rollback).toEqual({
      actor: 'U_ALICE',
      via: 'cli',
      action: 'rollback',
      outcome: 'done',
      os_user: 'mallory',
      host: 'mallorys-laptop',
      claimed: 'U_ALICE',
    });
    const history = (await service.handle('history', cli)).outcome as Extract<Outcome, { kind: 'history' }>;
    expect(history.entries[0].origin).toEqual({ osUser: 'mallory', host: 'mallorys-laptop', claimed: 'U_ALICE' });
  });

  it('a local admin listed by OS user acts as that user; a claimed name on top is not trusted', async () => {
    const { service } = engine(db, { admins: [alice.id, 'ops'] });
    const ops = localActor('console', { osUser: 'ops', host: 'jump' }, null);
    expect((await service.handle('d1', ops)).outcome).toMatchObject({ kind: 'requested' });
    expect((await service.handle('approve', localActor('console', { osUser: 'ops', host: 'jump' }, 'U_ALICE'))).outcome).toMatchObject({
      kind: 'refused',
      code: 'not_admin',
    });
    expect((await service.handle('approve', alice)).outcome).toMatchObject({ kind: 'stage_started' });
  });

  it('trial mode (no ROLLOUT_ADMINS): names typed at the console act, so the two-person rule can be rehearsed, and are recorded as claims', async () => {
    const { service } = engine(db, { admins: [] });
    const me = { osUser: 'dana', host: 'dev-box' };
    expect((await service.handle('d1', localActor('console', me, null))).outcome).toMatchObject({ kind: 'requested' });
    expect((await service.handle('approve', localActor('console', me, 'bob'))).outcome).toMatchObject({ kind: 'stage_started' });
    expect((await auditRows()).find((r) => r.action === 'approve')).toMatchObject({
      actor: 'bob',
      os_user: 'dana',
      host: 'dev-box',
      claimed: 'bob',
    });
  });
});
