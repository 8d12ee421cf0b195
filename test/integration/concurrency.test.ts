import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.ts';
import type { Outcome } from '../../src/core/outcomes.ts';
import { dbKind, openTestDatabase, type TestDatabase } from '../support/db.ts';
import { guardCycle } from '../../src/engine/guard.ts';
import { alice, bob, carol, engine, planWith } from '../support/engine.ts';
import { SECOND, TestClock } from '../support/clock.ts';
import { feed } from '../support/traffic.ts';

// PGlite is one session, so contention is only real on Postgres; there each service below has
// its own pool of connections, as separate replicas would.
let db: TestDatabase;
const extra: Database[] = [];
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await Promise.all(extra.map((d) => d.close()));
  await db.close();
});
beforeEach(() => db.reset());

async function replicas(n: number) {
  if (dbKind() === 'pglite') return Array.from({ length: n }, () => db);
  const more = await Promise.all(Array.from({ length: n }, () => openDatabase({ databaseUrl: db.testUrl! })));
  extra.push(...more);
  return more;
}

const admins = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `U_ADMIN${i}`, via: 'slack' as const }));

describe('concurrent requests resolve to exactly one transition', () => {
  it('20 concurrent approvals of one request: one transition, 19 told who won', async () => {
    const plan = planWith({ approvals: 1 });
    const { service, clock } = engine(db, { plan });
    const asked = await service.handle('d1', alice);
    const id = (asked.outcome as { request: { id: number } }).request.id;
    const dbs = await replicas(20);
    const approvers = admins(20);
    const outcomes: Outcome[] = await Promise.all(
      dbs.map((d, i) => {
        const s = engine(d, { plan, clock, admins: approvers.map((a) => a.id) }).service;
        return s.handle(`approve ${id}`, approvers[i]).then((r) => r.outcome);
      }),
    );
    const started = outcomes.filter((o) => o.kind === 'stage_started');
    expect(started).toHaveLength(1);
    const winner = (started[0] as { approvers: string[] }).approvers[0];
    const losers = outcomes.filter((o) => o.kind === 'refused');
    expect(losers).toHaveLength(19);
    for (const l of losers) expect(l).toMatchObject({ code: 'decided', message: expect.stringContaining(`already approved by ${winner}`) });
    const { rows } = await db.app.query(`SELECT action, outcome, count(*)::int AS n FROM rollout.audit GROUP BY 1, 2 ORDER BY 1, 2`);
    expect(rows).toEqual([
      { action: 'approve', outcome: 'done', n: 1 },
      { action: 'approve', outcome: 'refused', n: 19 },
      { action: 'request', outcome: 'done', n: 1 },
      { action: 'transition', outcome: 'done', n: 1 },
    ]);
    expect((await db.app.query('SELECT count(*)::int AS n FROM rollout.runs')).rows[0].n).toBe(1);
  });

  it('two admins requesting at once: one request opens, the other is told who asked', async () => {
    const plan = planWith({ approvals: 1 });
    const [d1, d2] = await replicas(2);
    const a = engine(d1, { plan }).service;
    const b = engine(d2, { plan }).service;
    const [ra, rb] = await Promise.all([a.handle('d1', alice), b.handle('d1', bob)]);
    const kinds = [ra.outcome.kind, rb.outcome.kind].sort();
    expect(kinds).toEqual(['refused', 'requested']);
    const refused = (ra.outcome.kind === 'refused' ? ra : rb).outcome as { code: string; message: string };
    const winner = ra.outcome.kind === 'requested' ? alice.id : bob.id;
    expect(refused).toMatchObject({ code: 'pending', message: expect.stringContaining(`${winner} already requested d1`) });
  });

  it('a manual rollback racing promotions: exactly one of them wins per state', async () => {
    const plan = planWith({ approvals: 0 });
    const { service } = engine(db, { plan });
    await service.handle('d1', alice);
    const dbs = await replicas(6);
    const outcomes = await Promise.all(
      dbs.map((d, i) => engine(d, { plan }).service.handle(i % 2 ? 'rollback race' : 'd2 --force', i % 2 ? bob : carol)),
    );
    const kinds = outcomes.map((o) => o.outcome.kind);
    expect(kinds.filter((k) => k === 'rolled_back')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'stage_started').length).toBeLessThanOrEqual(1);
    const { rows } = await db.app.query(`SELECT state FROM rollout.runs`);
    expect(rows).toEqual([{ state: 'rolled_back' }]);
    const flag = await db.app.query(`SELECT flag_value_text FROM feature_flags`);
    expect(flag.rows[0].flag_value_text).toBe('{"fal":1.0,"runware":0.0}');
  });
});

describe('a manual rollback racing the auto-rollback', () => {
  it('ends in exactly one rollback; the loser is told there is nothing left to roll back', async () => {
    const plan = planWith({ approvals: 0, minSamples: 20, baselineCostPerImage: 0.005 });
    const clock = new TestClock();
    const { service } = engine(db, { plan, clock });
    await service.handle('d1', alice);
    // Failing for 5 minutes: the next guard cycle fires.
    for (let i = 0; i < 10; i++) {
      const from = clock.now();
      await feed(db.app, from, clock.advance(30 * SECOND), { perMinute: 120, failureShare: 1 });
      await guardCycle(service);
    }
    await feed(db.app, clock.now(), clock.advance(30 * SECOND), { perMinute: 120, failureShare: 1 });
    const [human, guard] = await replicas(2);
    const [manual, auto] = await Promise.all([
      engine(human, { plan, clock }).service.handle('rollback seen it too', bob),
      guardCycle(engine(guard, { plan, clock }).service),
    ]);
    const rollbacks = await db.app.query(`SELECT actor FROM rollout.audit WHERE action = 'rollback' AND outcome = 'done'`);
    expect(rollbacks.rows).toHaveLength(1);
    if (rollbacks.rows[0].actor === 'guard') {
      expect(auto.kind).toBe('rolled_back');
      expect(manual.outcome).toMatchObject({
        kind: 'refused',
        code: 'not_active',
        message: expect.stringContaining('the last run was rolled back'),
      });
    } else {
      expect(manual.outcome.kind).toBe('rolled_back');
      expect(['raced', 'idle']).toContain(auto.kind); // lost inside its transaction, or before reading
    }
    const alerts = await db.app.query(`SELECT kind FROM rollout.outbox WHERE kind IN ('auto_rollback', 'manual_rollback')`);
    expect(alerts.rows).toHaveLength(1);
  });
});
