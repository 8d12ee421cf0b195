import { describe, it, type TestContext } from 'vitest';
import { BotProcess, eventually } from '../support/bot-process.ts';
import { cleanupOf, fastPlanFile, one, scratchDatabase, type Scratch } from './harness.ts';

// SIGTERM, as a deploy or a process manager sends it, to the leader of two real processes. Each
// test has its own database and processes: the two run at once.
async function setup(ctx: TestContext) {
  const cleanup = cleanupOf(ctx);
  const db = await scratchDatabase();
  cleanup(() => db.close());
  const bot = async (planFile: string) => {
    const b = await BotProcess.start({ DATABASE_URL: db.url, ROLLOUT_PLAN: planFile, ROLLOUT_USER: 'alice' });
    cleanup(() => b.kill());
    return b;
  };
  return { db, bot, cleanup };
}

// Not a divisor of an hour, so each replica evaluates on its own timer from its start: in this
// test's time no evaluation tick can be what makes the standby lead.
const plan = () => fastPlanFile({ evaluateEvery: '7m' });

const LEADER_LOCK = { classid: 1, objid: 3_111_243_707 }; // 7 406 211 003 as pg_locks shows a bigint key
const lockHolder = (db: Scratch) =>
  one<{ pid: number }>(
    db.pool,
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND granted
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [LEADER_LOCK.classid, LEADER_LOCK.objid],
  );

/** The bots' state lock, held by the test: the leader's next report blocks inside its transaction. */
async function holdStateLock(db: Scratch, cleanup: ReturnType<typeof cleanupOf>) {
  const client = await db.pool.connect();
  await client.query('BEGIN');
  await client.query('SELECT pg_advisory_xact_lock(7406211002)');
  let held = true;
  const release = async () => {
    if (!held) return;
    held = false;
    await client.query('ROLLBACK');
    client.release();
  };
  cleanup(release);
  return {
    blocked: () =>
      eventually(
        () =>
          one<{ n: number }>(
            db.pool,
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rollout-bot' AND wait_event_type = 'Lock'`,
          ),
        (r) => r!.n > 0,
        20_000,
        "the leader's report blocked inside its transaction",
      ),
    release,
  };
}

describe.concurrent('SIGTERM to the leader', () => {
  it('finishes the transaction under way, hands leadership over at once, exits 0; nothing is done twice', async (ctx) => {
    const { expect } = ctx;
    const { db, bot, cleanup } = await setup(ctx);
    const planFile = plan();
    const a = await bot(planFile);
    await a.waitFor(/leader: this replica runs the guard/);
    const b = await bot(planFile);
    a.send('d1');
    a.send('as bob approve');
    await a.waitFor(/d1 started/);
    await eventually(
      () => one<{ n: number }>(db.pool, 'SELECT count(*)::int AS n FROM rollout.reports'),
      (r) => r!.n >= 1,
      20_000,
      'a report',
    );
    const leaderPid = (await lockHolder(db))!.pid;

    // A report (every 5 s) is under way when the signal comes.
    const hold = await holdStateLock(db, cleanup);
    await hold.blocked();
    const before = await one<{ n: number; now: Date }>(db.pool, 'SELECT count(*)::int AS n, now() FROM rollout.reports');
    const stopped = a.kill('SIGTERM');
    await a.waitFor(/SIGTERM: stopping/);

    // The standby tries the lock every second; while the leader's transaction is open, it keeps
    // the lock: the standby has tried since the signal and does not lead.
    await eventually(
      () =>
        one<{ n: number }>(
          db.pool,
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'rollout-bot-leader' AND pid <> $1 AND state = 'idle' AND state_change > $2`,
          [leaderPid, before!.now],
        ),
      (r) => r!.n > 0,
      10_000,
      'a try of the lock by the standby after the signal',
    );
    expect(await lockHolder(db), `the old leader said:\n${a.output}`).toEqual({ pid: leaderPid });
    expect(b.output).not.toMatch(/leader: this replica runs the guard/);

    await hold.release();
    await stopped;
    expect(await a.exited).toBe(0);
    expect(a.output).toMatch(/stopped in \d+ ms/);
    // Led long before its own next evaluation (7 min away): the handover, not the tick.
    await b.waitFor(/leader: this replica runs the guard/, 20_000);
    expect((await lockHolder(db))!.pid).not.toBe(leaderPid);

    // The report under way was committed, and the new leader reports on.
    await eventually(
      () => one<{ n: number }>(db.pool, 'SELECT count(*)::int AS n FROM rollout.reports'),
      (r) => r!.n >= before!.n + 2,
      20_000,
      'reports by the new leader',
    );
    await eventually(
      () => one<{ n: number }>(db.pool, `SELECT count(*)::int AS n FROM rollout.outbox WHERE delivered_at IS NULL`),
      (r) => r!.n === 0,
      20_000,
      'the outbox drained by the new leader',
    );
    await b.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    // Never two reports for one tick (every 5 s), and each delivered by one replica only.
    const { rows } = await db.pool.query('SELECT at FROM rollout.reports ORDER BY at');
    const gaps = rows.slice(1).map((r, i) => r.at.getTime() - rows[i].at.getTime());
    expect(Math.min(...gaps)).toBeGreaterThan(3_000);
    const delivered = await one<{ n: number }>(
      db.pool,
      `SELECT count(*)::int AS n FROM rollout.outbox WHERE kind = 'report' AND delivered_at IS NOT NULL`,
    );
    const printed = (a.output + b.output).match(/\[report\]/g)?.length ?? 0;
    expect(printed).toBe(delivered!.n);
  });

  it('still stops on SIGTERM, exit 0, when whoever read its output is gone', async (ctx) => {
    const { expect } = ctx;
    const { db, bot } = await setup(ctx);
    const a = await bot(plan());
    await a.waitFor(/leader: this replica runs the guard/);
    // A log shipper that died, or `npm start` killed: every line the bot writes from now on fails (EPIPE).
    a.detachOutput();
    const gone = new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 20_000).unref());
    void a.kill('SIGTERM');
    expect(await Promise.race([a.exited, gone])).toBe(0);
    expect(await lockHolder(db)).toBeUndefined();
  });
});
