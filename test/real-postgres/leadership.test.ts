import { describe, it, type TestContext } from 'vitest';
import { BotProcess } from '../support/bot-process.ts';
import { tcpProxy } from '../support/tcp-proxy.ts';
import { cleanupOf, fastPlanFile, one, scratchDatabase } from './harness.ts';

// Leadership that holds when a host vanishes, and replicas that may all start at once. Each test
// has its own database and processes: the two run at once.
async function setup(ctx: TestContext) {
  const cleanup = cleanupOf(ctx);
  const db = await scratchDatabase();
  cleanup(() => db.close());
  const bot = async (env: Record<string, string>): Promise<BotProcess> => {
    const b = await BotProcess.start({ ROLLOUT_USER: 'alice', ...env });
    cleanup(() => b.kill());
    return b;
  };
  return { db, bot, cleanup };
}

describe.concurrent('leadership', () => {
  it('a leader whose connection silently goes dead (no FIN, no RST) loses the lock: a standby leads within about a minute', async (ctx) => {
    const { expect } = ctx;
    const { db, bot, cleanup } = await setup(ctx);
    const proxy = await tcpProxy({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
    cleanup(() => proxy.close());
    const plan = fastPlanFile();
    // A 9 s window instead of the default 30 s (heartbeat 3 s): the same mechanism, a third of the wait.
    const timeout = { ROLLOUT_LEADER_TIMEOUT_SECONDS: '9' };
    const a = await bot({ DATABASE_URL: proxy.url(db.url), ROLLOUT_PLAN: plan, ...timeout });
    await a.waitFor(/leader: this replica runs the guard/);
    const b = await bot({ DATABASE_URL: db.url, ROLLOUT_PLAN: plan, ...timeout });
    await b.waitFor(/standby|Console ready/);
    expect(b.output).not.toMatch(/leader: this replica runs the guard/);

    // The leader's host vanishes: every byte it sends or should receive is lost, and no socket closes.
    proxy.stall();
    // Postgres ends the quiet session (idle_session_timeout, 9 s after the last heartbeat here), which
    // frees the lock; the standby tries it every second.
    await b.waitFor(/leader: this replica runs the guard/, 90_000);
    const holders = await one<{ n: number }>(
      db.pool,
      `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 3111243707 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    expect(holders).toEqual({ n: 1 });
    // The old leader, cut off, stops acting as one: its lock connection cannot prove the lock.
    await a.waitFor(/database unavailable|no longer held/, 30_000);
  });

  it('three replicas started at the same moment while the analytics index is built all come up (no deadlock)', async (ctx) => {
    const { expect } = ctx;
    const { db, cleanup } = await setup(ctx);
    // A day of traffic without the index, so building it CONCURRENTLY takes seconds.
    await db.pool.query('DROP INDEX IF EXISTS analytics_logs_event_type_created_at_idx');
    await db.pool.query(`DELETE FROM rollout.migrations WHERE name LIKE '%analytics_index%'`);
    await db.pool.query(
      `INSERT INTO analytics_logs (event_type, event_data, created_at)
       SELECT CASE WHEN i % 3 = 0 THEN 'gen_ok' ELSE 'gen_route' END,
              jsonb_build_object('provider', CASE WHEN i % 2 = 0 THEN 'fal' ELSE 'runware' END, 'latency_ms', 1000 + i % 5000, 'cost_per_image', 0.005),
              now() - (i * interval '60 milliseconds')
       FROM generate_series(1, 1440000) AS i`,
    );
    const env = { DATABASE_URL: db.ownerUrl, ROLLOUT_PLAN: fastPlanFile(), ROLLOUT_CREATE_INDEX: 'true' };
    const started = await Promise.allSettled([0, 1, 2].map(() => BotProcess.start(env, /Console ready/)));
    for (const s of started) if (s.status === 'fulfilled') cleanup(() => s.value.kill());
    const failures = started.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason).slice(0, 500));
    expect(failures).toEqual([]);
    const index = await one(
      db.pool,
      `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'analytics_logs_event_type_created_at_idx'`,
    );
    expect(index).toEqual({ valid: true });
  });
});
