import { describe, it, type TestContext } from 'vitest';
import { BotProcess, eventually } from '../support/bot-process.ts';
import { cleanupOf, failuresHeldFor, fastPlanFile, one, scratchDatabase, trafficWriter, type Scratch } from './harness.ts';

// Real child processes killed with SIGKILL on real Postgres: what survives is only what was
// committed. Each test has its own database and processes: the three run at once.
async function setup(ctx: TestContext, plan = fastPlanFile()) {
  const cleanup = cleanupOf(ctx);
  const db = await scratchDatabase();
  cleanup(() => db.close());
  const bot = async () => {
    const b = await BotProcess.start({ DATABASE_URL: db.url, ROLLOUT_PLAN: plan, ROLLOUT_USER: 'alice' });
    cleanup(() => b.kill());
    return b;
  };
  const run = () => one<{ id: number; state: string }>(db.pool, 'SELECT id, state FROM rollout.runs ORDER BY id DESC LIMIT 1');
  const clocks = () => one<{ clocks: any }>(db.pool, 'SELECT clocks FROM rollout.guard_state ORDER BY run_id DESC LIMIT 1');
  return { db, bot, run, clocks, cleanup };
}

/** Holds the flag row locked so the next writer blocks inside its transaction, then reports when it does. */
async function holdFlagRow(db: Scratch) {
  const client = await db.pool.connect();
  await client.query('BEGIN');
  await client.query(`SELECT 1 FROM feature_flags WHERE flag_key = 'GEN_PROVIDER_WEIGHTS' FOR UPDATE`);
  return {
    waitForBlockedWriter: () =>
      eventually(
        () =>
          one<{ n: number }>(
            db.pool,
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rollout-bot' AND wait_event_type = 'Lock'`,
          ),
        (r) => r!.n > 0,
        20_000,
        'a bot transaction blocked on the flag row',
      ),
    async release() {
      await client.query('ROLLBACK');
      client.release();
    },
  };
}

describe.concurrent('SIGKILL and restart', () => {
  it('mid-breach: the breach clock continues where it was and the rollback alert is delivered once', async (ctx) => {
    const { expect } = ctx;
    const { db, bot, run, clocks, cleanup } = await setup(
      ctx,
      // `for` 10 s, not 15: the test kills the bot as soon as it sees the breach, long before.
      fastPlanFile(failuresHeldFor('10s')),
    );
    const a = await bot();
    a.send('d1');
    a.send('as bob approve');
    await a.waitFor(/d1 started/);
    const traffic = trafficWriter(db.pool);
    cleanup(() => traffic.stop());
    traffic.fail(true);
    const breach = await eventually(clocks, (r) => !!r?.clocks.lines.failureRatePercent?.breachSince, 30_000, 'a breach');
    const since = breach!.clocks.lines.failureRatePercent.breachSince as string;
    await a.kill('SIGKILL');
    const killedAt = Date.now();
    expect(killedAt - Date.parse(since)).toBeLessThan(10_000); // killed before `for` passed
    const b = await bot();
    await eventually(run, (r) => r?.state === 'rolled_back', 30_000, 'the auto-rollback');
    await b.waitFor(/AUTO-ROLLBACK at d1/);
    await traffic.stop();
    const audit = await one<{ detail: any }>(db.pool, `SELECT detail FROM rollout.audit WHERE action = 'rollback'`);
    expect(audit!.detail.breachSince).toBe(since); // the same clock, not one restarted by the new process
    expect(audit!.detail).toMatchObject({ label: 'Rollback', automatic: true });
    expect(a.count(/AUTO-ROLLBACK/) + b.count(/AUTO-ROLLBACK/)).toBe(1);
    const outbox = await one<{ n: number; undelivered: number }>(
      db.pool,
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE delivered_at IS NULL)::int AS undelivered FROM rollout.outbox WHERE kind = 'auto_rollback'`,
    );
    expect(outbox).toEqual({ n: 1, undelivered: 0 });
  });

  it('mid-approval: a killed approval leaves nothing half-done, and a retry applies it wholly', async (ctx) => {
    const { expect } = ctx;
    const { db, bot, run } = await setup(ctx);
    const a = await bot();
    await db.pool.query(
      `INSERT INTO feature_flags (flag_key, flag_value, flag_value_text, description) VALUES ('GEN_PROVIDER_WEIGHTS', false, '{"fal":1.0,"runware":0.0}', 'Provider weights: 100% FAL, 0% Runware (Manual Rollback)')`,
    );
    a.send('d1');
    await a.waitFor(/Requested d1/);
    const lock = await holdFlagRow(db);
    a.send('as bob approve');
    await lock.waitForBlockedWriter();
    await a.kill('SIGKILL');
    await lock.release();
    expect(await one(db.pool, `SELECT status, approvals FROM rollout.requests`)).toEqual({ status: 'pending', approvals: [] });
    expect(await run()).toBeUndefined();
    expect(await one(db.pool, `SELECT flag_value_text FROM feature_flags`)).toEqual({ flag_value_text: '{"fal":1.0,"runware":0.0}' });
    expect(await one(db.pool, `SELECT count(*)::int AS n FROM rollout.audit WHERE action <> 'request'`)).toEqual({ n: 0 });

    const b = await bot();
    b.send('as bob approve');
    await b.waitFor(/d1 started/);
    expect(await run()).toMatchObject({ state: 'd1' });
    expect(await one(db.pool, `SELECT flag_value_text FROM feature_flags`)).toEqual({ flag_value_text: '{"fal":0.9,"runware":0.1}' });
    expect(await one(db.pool, `SELECT count(*)::int AS n FROM rollout.audit WHERE action = 'transition'`)).toEqual({ n: 1 });
  });

  it('mid-rollback: a rollback killed inside its transaction is completed after restart, its alert sent once', async (ctx) => {
    const { expect } = ctx;
    const { db, bot, run, clocks, cleanup } = await setup(
      ctx,
      // `for` 10 s, not 15: the test holds the flag row as soon as it sees the breach, long before.
      fastPlanFile(failuresHeldFor('10s')),
    );
    const a = await bot();
    a.send('d1');
    a.send('as bob approve');
    await a.waitFor(/d1 started/);
    const traffic = trafficWriter(db.pool);
    cleanup(() => traffic.stop());
    traffic.fail(true);
    await eventually(clocks, (r) => !!r?.clocks.lines.failureRatePercent?.breachSince, 30_000, 'a breach');
    const lock = await holdFlagRow(db);
    await lock.waitForBlockedWriter(); // the guard's rollback transaction, waiting to write the flag
    await a.kill('SIGKILL');
    await lock.release();
    expect(await run()).toMatchObject({ state: 'd1' });
    expect(await one(db.pool, `SELECT count(*)::int AS n FROM rollout.outbox WHERE kind = 'auto_rollback'`)).toEqual({ n: 0 });

    const b = await bot();
    await eventually(run, (r) => r?.state === 'rolled_back', 30_000, 'the auto-rollback after restart');
    await b.waitFor(/AUTO-ROLLBACK at d1/);
    await traffic.stop();
    expect(await one(db.pool, `SELECT flag_value_text, description FROM feature_flags`)).toEqual({
      flag_value_text: '{"fal":1.0,"runware":0.0}',
      description: 'Provider weights: 100% FAL, 0% Runware (Rollback)',
    });
    expect(a.count(/AUTO-ROLLBACK/) + b.count(/AUTO-ROLLBACK/)).toBe(1);
    expect(await one(db.pool, `SELECT count(*)::int AS n FROM rollout.audit WHERE action = 'rollback'`)).toEqual({ n: 1 });
  });
});
