import { describe, it, type TestContext } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { guardCycle } from '../../src/engine/guard.ts';
import { BotProcess, eventually } from '../support/bot-process.ts';
import { alice, engine, planWith } from '../support/engine.ts';
import { feed } from '../support/traffic.ts';
import { TestClock, MINUTE } from '../support/clock.ts';
import { cleanupOf, failuresHeldFor, fastPlanFile, one, scratchDatabase, type Scratch, trafficWriter } from './harness.ts';

async function scratch(cleanup: ReturnType<typeof cleanupOf>): Promise<Scratch> {
  const s = await scratchDatabase();
  cleanup(() => s.close());
  return s;
}

// Each test has its own databases and processes: the two run at once.
describe.concurrent('several replicas on one Postgres', () => {
  it('one leader runs the guard and reports; when it dies another takes over within one evaluateEvery, with no double rollback or report', async (ctx: TestContext) => {
    const { expect } = ctx;
    const cleanup = cleanupOf(ctx);
    const db = await scratch(cleanup);
    // The red line held 5 s: the test waits only for the rollback.
    const env = { DATABASE_URL: db.url, ROLLOUT_PLAN: fastPlanFile(failuresHeldFor('5s')), ROLLOUT_USER: 'alice' };
    const a = await BotProcess.start(env);
    cleanup(() => a.kill());
    await a.waitFor(/leader: this replica runs the guard/);
    const b = await BotProcess.start(env);
    cleanup(() => b.kill());
    // Any replica answers commands: the request goes to the standby, the approval to the leader.
    b.send('d1');
    await b.waitFor(/Requested d1/);
    a.send('as bob approve');
    await a.waitFor(/d1 started/);
    expect(b.output).not.toMatch(/leader: this replica/);

    const reportsBefore = await eventually(
      () => one<{ n: number }>(db.pool, 'SELECT count(*)::int AS n FROM rollout.reports'),
      (r) => r!.n >= 2,
      20_000,
      'reports by the leader',
    );
    await a.kill('SIGKILL');
    // The standby tries the leader lock every second; takeover time is measured by the bench.
    await b.waitFor(/leader: this replica runs the guard/, 15_000);

    const traffic = trafficWriter(db.pool);
    cleanup(() => traffic.stop());
    traffic.fail(true);
    await eventually(
      () => one<{ state: string }>(db.pool, 'SELECT state FROM rollout.runs'),
      (r) => r?.state === 'rolled_back',
      40_000,
      'the auto-rollback',
    );
    await b.waitFor(/AUTO-ROLLBACK/);
    expect(await one(db.pool, `SELECT count(*)::int AS n FROM rollout.audit WHERE action = 'rollback'`)).toEqual({ n: 1 });
    // Reports every 5 s from one leader at a time: never two for the same tick.
    const { rows } = await db.pool.query(`SELECT at FROM rollout.reports ORDER BY at`);
    expect(rows.length).toBeGreaterThan(reportsBefore!.n);
    const gaps = rows.slice(1).map((r, i) => r.at.getTime() - rows[i].at.getTime());
    expect(Math.min(...gaps)).toBeGreaterThan(3_000);
  });

  it('METRICS_DATABASE_URL: the analytics queries go to the replica, the flag and the state stay on DATABASE_URL', async (ctx: TestContext) => {
    const { expect } = ctx;
    const cleanup = cleanupOf(ctx);
    const primary = await scratch(cleanup);
    const replica = await scratch(cleanup);
    let db: Database | null = null;
    cleanup(async () => db?.close());
    db = await openDatabase({ databaseUrl: primary.url, metricsDatabaseUrl: replica.url });
    await migrate(db.pool, { createAnalyticsIndex: true });
    await migrate(replica.pool, { createAnalyticsIndex: true });
    const clock = new TestClock();
    const { service } = engine(db, { plan: planWith({ approvals: 0, minSamples: 20, baselineCostPerImage: 0.005 }), clock });
    await service.handle('d1', alice);
    // Failing traffic exists only on the replica: only a guard reading the replica sees it.
    await feed(replica.pool, new Date(clock.now().getTime() - 5 * MINUTE), clock.now(), { perMinute: 60, failureShare: 1 });
    const r = await guardCycle(service);
    expect(r.kind).toBe('evaluated');
    expect((r as { evaluations: { name: string; state: string }[] }).evaluations.find((e) => e.name === 'failureRatePercent')!.state).toBe(
      'breach',
    );
    expect(await one(primary.pool, `SELECT count(*)::int AS n FROM analytics_logs`)).toEqual({ n: 0 });
    expect(await one(primary.pool, `SELECT count(*)::int AS n FROM rollout.guard_state`)).toEqual({ n: 1 });
    expect(await one(replica.pool, `SELECT count(*)::int AS n FROM rollout.guard_state`)).toEqual({ n: 0 });
  });
});
