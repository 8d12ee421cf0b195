import pg from 'pg';
import { describe, it, type TestContext } from 'vitest';
import { indexSteps, LOCK_TIMEOUT_MS } from '../../src/db/analytics-index.ts';
import { openDatabase } from '../../src/db/database.ts';
import { guardCycle } from '../../src/engine/guard.ts';
import type { GuardResult } from '../../src/engine/ports.ts';
import type { RolloutService } from '../../src/engine/service.ts';
import { BotProcess, eventually } from '../support/bot-process.ts';
import { MINUTE, SECOND, TestClock } from '../support/clock.ts';
import { alice, engine, planWith } from '../support/engine.ts';
import { runPsqlFile } from '../support/global-setup.ts';
import { leafIndexes, parentIndex, partitionAnalytics } from '../support/partitions.ts';
import { feed, type Health } from '../support/traffic.ts';
import { cleanupOf, fastPlanFile, one, scratchDatabase } from './harness.ts';

// A range-partitioned analytics_logs (daily, pg_partman style, DEFAULT, one day sub-partitioned)
// and the real bot process: the index built at start while the app writes, a build killed
// half-way, the least-privilege role, and the guard still rolling back on time.
const DAY = 86_400_000;
// Each test has its own database and processes: they run at once.
type Cleanup = ReturnType<typeof cleanupOf>;

function fixtures(ctx: TestContext) {
  const cleanup = cleanupOf(ctx);
  return {
    cleanup,
    async scratch() {
      const s = await scratchDatabase();
      cleanup(() => s.close());
      return s;
    },
    started(b: BotProcess): BotProcess {
      cleanup(() => b.kill());
      return b;
    },
  };
}

/**
 * The app: five rows through the parent every 20 ms at the real time, each insert timed; and a
 * watcher of pg_stat_activity noting the longest any of its inserts has been waiting on a lock.
 */
function appTraffic(cleanup: Cleanup, url: string) {
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: 'app-traffic' });
  const watcher = new pg.Pool({ connectionString: url, max: 1 });
  pool.on('error', () => {});
  watcher.on('error', () => {});
  const stats = { ok: [] as number[], failures: [] as string[], longestLockWaitMs: 0, slowestInsertMs: 0 };
  let stopped = false;
  const writing = (async () => {
    while (!stopped) {
      const t = Date.now();
      try {
        await pool.query(
          `INSERT INTO analytics_logs (event_type, event_data)
           SELECT 'gen_route', jsonb_build_object('provider', 'runware', 'latency_ms', 1200, 'cost_per_image', 0.005) FROM generate_series(1, 5)`,
        );
        stats.ok.push(Date.now());
        stats.slowestInsertMs = Math.max(stats.slowestInsertMs, Date.now() - t);
      } catch (err) {
        stats.failures.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const watching = (async () => {
    while (!stopped) {
      const r = await watcher
        .query(
          `SELECT coalesce(max(extract(epoch FROM clock_timestamp() - query_start) * 1000), 0)::float8 AS ms
           FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'app-traffic' AND wait_event_type = 'Lock'`,
        )
        .catch(() => ({ rows: [{ ms: 0 }] }));
      stats.longestLockWaitMs = Math.max(stats.longestLockWaitMs, r.rows[0].ms);
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  // Once, whether the test stops it or its cleanup does.
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      stopped = true;
      await Promise.all([writing, watching]);
      await pool.end();
      await watcher.end();
    })());
  cleanup(stop);
  return { stats, stop };
}

/** The time of the first JSON log line matching. */
function loggedAt(output: string, pattern: RegExp): number {
  for (const line of output.split('\n')) {
    if (!pattern.test(line)) continue;
    const time = JSON.parse(line).time;
    return typeof time === 'number' ? time : Date.parse(time);
  }
  throw new Error(`no log line matches ${pattern}:\n${output}`);
}

const HEALTHY: Health = { perMinute: 120, latencyMs: 1500, failureShare: 0, cost: 0.005 };
const FAILING: Health = { perMinute: 120, latencyMs: 1500, failureShare: 1, cost: 0.005 };

describe.concurrent('a partitioned analytics_logs', () => {
  it('npm start with defaults builds the index while the app writes: every partition indexed, writes never blocked, new partitions inherit it, and the guard rolls back a sustained breach on time', async (ctx) => {
    const { expect } = ctx;
    const { cleanup, scratch, started } = fixtures(ctx);
    const db = await scratch();
    const now = new Date();
    const table = await partitionAnalytics(db.pool, {
      today: now,
      daysBack: 4,
      daysAhead: 3,
      rowsPerDay: 150_000,
      defaultRows: 2_000,
      subPartitionOldest: true,
    });
    const app = appTraffic(cleanup, db.ownerUrl);
    await eventually(
      async () => app.stats.ok.length,
      (n) => n > 5,
      10_000,
      'the app writing',
    );

    // The table's owner runs the bot here (the least-privilege role cannot build indexes: see below).
    const bot = started(await BotProcess.start({ DATABASE_URL: db.ownerUrl, ROLLOUT_PLAN: fastPlanFile(), ROLLOUT_USER: 'alice' }));
    expect(bot.output).toMatch(
      /analytics index \(1 of \d+\): CREATE INDEX IF NOT EXISTS analytics_logs_event_type_created_at_idx ON ONLY public\.analytics_logs \(event_type, created_at\);/,
    );
    const [from, to] = [loggedAt(bot.output, /analytics index \(1 of/), loggedAt(bot.output, /analytics index: valid on/)];
    expect(bot.output).toContain(`analytics index: valid on analytics_logs (partitioned, ${table.leaves.length} partitions)`);
    await new Promise((r) => setTimeout(r, 200));
    await app.stop();

    // Every leaf (DEFAULT and the sub-partitions too) has one valid index, attached; the parent's is valid.
    const leaves = await leafIndexes(db.pool);
    expect(leaves.map((l) => l.leaf).sort()).toEqual([...table.leaves].sort());
    for (const l of leaves) expect(l).toMatchObject({ valid: true, parent: expect.stringMatching(/_event_type_created_at_idx$/) });
    expect(await parentIndex(db.pool)).toEqual({ index: 'analytics_logs_event_type_created_at_idx', valid: true });
    expect(await one(db.pool, `SELECT count(*)::int AS n FROM rollout.migrations WHERE name = '003_analytics_index.sql'`)).toEqual({
      n: 1,
    });

    // The app wrote all along: no insert failed, some completed during the build, and none waited
    // on a lock longer than the bot's lock_timeout (the catalog-only steps give up rather than queue writes).
    expect(app.stats.failures).toEqual([]);
    expect(app.stats.ok.filter((t) => t > from && t < to).length).toBeGreaterThan(0);
    expect(app.stats.longestLockWaitMs).toBeLessThan(LOCK_TIMEOUT_MS);
    console.info(
      `partitioned build: ${((to - from) / 1000).toFixed(1)} s for ${table.leaves.length} partitions; ` +
        `${app.stats.ok.length} inserts, slowest ${app.stats.slowestInsertMs} ms, longest lock wait seen ${app.stats.longestLockWaitMs.toFixed(0)} ms`,
    );

    // pg_partman's premake: a partition made now has the index at CREATE TABLE, and the parent's stays valid.
    const next = table.days.at(-1)!.to.getTime();
    await db.pool.query(
      `CREATE TABLE analytics_logs_p_next PARTITION OF analytics_logs FOR VALUES FROM ('${new Date(next).toISOString()}') TO ('${new Date(next + DAY).toISOString()}')`,
    );
    expect((await leafIndexes(db.pool)).filter((l) => l.leaf === 'analytics_logs_p_next')).toEqual([
      expect.objectContaining({ valid: true, parent: 'analytics_logs_event_type_created_at_idx' }),
    ]);
    expect(await parentIndex(db.pool)).toMatchObject({ valid: true });
    await bot.kill();

    // The guard, as the bot's role, on the partitioned table: a breach that holds rolls back at
    // the first evaluation after `for`, driven by a test clock from now (rows land in today's partition).
    const botDb = await openDatabase({ databaseUrl: db.url });
    cleanup(() => botDb.close());
    const plan = planWith({
      approvals: 0,
      minSamples: 20,
      baselineCostPerImage: 0.005,
      redLines: {
        p95LatencyMs: { threshold: 8000, window: '1m', for: '5m' },
        failureRatePercent: { threshold: 2, window: '1m', for: '5m' },
        costPerImageRatio: { threshold: 1.2, window: '1h', for: '10m' },
        regenerateRatePercent: { threshold: 5, window: '1h', for: '10m' },
      },
    });
    const clock = new TestClock(new Date(Math.ceil(Date.now() / SECOND) * SECOND).toISOString());
    const { service } = engine(botDb, { plan, clock });
    const step = async (s: RolloutService, health: Health): Promise<GuardResult> => {
      const f = clock.now();
      await feed(db.pool, f, clock.advance(s.plan.evaluateEveryMs), health, { perMinute: 240, latencyMs: 1200, cost: 0.005 });
      return guardCycle(s);
    };
    expect((await service.handle('d1', alice)).outcome.kind).toBe('stage_started');
    for (let i = 0; i < 4; i++) expect((await step(service, HEALTHY)).kind).toBe('evaluated');
    const faultAt = clock.now().getTime();
    let firstBreachAt: number | null = null;
    let rolledBackAt: number | null = null;
    for (let i = 0; i < 20 && rolledBackAt === null; i++) {
      const r = await step(service, FAILING);
      if (r.kind === 'evaluated' && firstBreachAt === null && r.evaluations.some((e) => e.state === 'breach'))
        firstBreachAt = clock.now().getTime();
      if (r.kind === 'rolled_back') rolledBackAt = clock.now().getTime();
    }
    expect(rolledBackAt! - firstBreachAt!).toBe(5 * MINUTE);
    expect(rolledBackAt! - faultAt).toBeLessThanOrEqual(5 * MINUTE + plan.evaluateEveryMs);
    expect(await one(db.pool, 'SELECT state FROM rollout.runs ORDER BY id DESC LIMIT 1')).toEqual({ state: 'rolled_back' });
  });

  it('a build killed half-way resumes at the next start, with two replicas starting at once: the leftover invalid index dropped and built again, finished partitions untouched', async (ctx) => {
    const { expect } = ctx;
    const { cleanup, scratch, started } = fixtures(ctx);
    const db = await scratch();
    const table = await partitionAnalytics(db.pool, { today: new Date(), daysBack: 4, daysAhead: 2, rowsPerDay: 20_000, defaultRows: 100 });
    // A write in flight on the partition of two days ago that does not end: the build (newest first)
    // gets there and waits inside CREATE INDEX CONCURRENTLY, its index already in the catalog, invalid.
    const blocked = table.days[2].name;
    const holder = new pg.Client({ connectionString: db.ownerUrl });
    await holder.connect();
    cleanup(() => holder.end());
    await holder.query('BEGIN');
    await holder.query(`LOCK TABLE ${blocked} IN ROW EXCLUSIVE MODE`);
    const env = { DATABASE_URL: db.ownerUrl, ROLLOUT_PLAN: fastPlanFile(), ROLLOUT_USER: 'alice' };
    const first = started(await BotProcess.start(env, new RegExp(`CREATE INDEX CONCURRENTLY IF NOT EXISTS \\S+ ON public\\.${blocked} `)));
    const building = await eventually(
      () =>
        one<{ pid: number }>(
          db.pool,
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rollout-bot' AND wait_event_type = 'Lock' AND query LIKE 'CREATE INDEX CONCURRENTLY%${blocked} %'`,
        ),
      (r) => !!r,
      30_000,
      'the build waiting on the partition in use',
    );
    // The process dies, and Postgres ends its session (as when the host goes away): the build stops half-way.
    await first.kill('SIGKILL');
    await db.pool.query('SELECT pg_terminate_backend($1)', [building!.pid]);
    await eventually(
      () => one(db.pool, 'SELECT 1 AS alive FROM pg_stat_activity WHERE pid = $1', [building!.pid]),
      (r) => !r,
      10_000,
      'the session gone',
    );
    await holder.query('ROLLBACK');

    const half = await leafIndexes(db.pool);
    const leftover = half.find((l) => l.leaf === blocked)!;
    expect(leftover).toMatchObject({ valid: false, parent: null });
    const done = half.filter((l) => l.valid && l.parent);
    expect(done.map((l) => l.leaf).sort()).toEqual(
      table.days
        .slice(3)
        .map((d) => d.name)
        .sort(),
    );
    expect(await parentIndex(db.pool)).toMatchObject({ valid: false });
    const oid = async (index: string) => (await one<{ oid: number }>(db.pool, 'SELECT $1::regclass::oid::int AS oid', [index]))!.oid;
    const leftoverOid = await oid(leftover.index);
    const doneOids = await Promise.all(done.map((l) => oid(l.index)));

    const replicas = await Promise.allSettled([0, 1].map(() => BotProcess.start(env)));
    for (const r of replicas) if (r.status === 'fulfilled') started(r.value);
    expect(replicas.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason).slice(0, 800))).toEqual(
      [],
    );
    const after = await leafIndexes(db.pool);
    expect(after.map((l) => l.leaf).sort()).toEqual([...table.leaves].sort()); // one index per leaf: nothing built twice
    for (const l of after) expect(l).toMatchObject({ valid: true, parent: 'analytics_logs_event_type_created_at_idx' });
    expect(await parentIndex(db.pool)).toMatchObject({ valid: true });
    // The leftover was dropped and built again; what was finished before the kill was kept as it was.
    expect(await oid(after.find((l) => l.leaf === blocked)!.index)).not.toBe(leftoverOid);
    expect(await Promise.all(done.map((l) => oid(l.index)))).toEqual(doneOids);
    const outputs = replicas.map((r) => (r as PromiseFulfilledResult<BotProcess>).value.output).join('\n');
    expect(outputs).toContain(`DROP INDEX CONCURRENTLY IF EXISTS public.${leftover.index};`);
    expect(outputs.match(/CREATE INDEX CONCURRENTLY/g)).toHaveLength(table.leaves.length - done.length);
  });

  it('as the least-privilege role: a missing index stops the start with the exact statements; ROLLOUT_CREATE_INDEX=false starts and says them; once the owner runs sql/analytics-index.psql, defaults start', async (ctx) => {
    const { expect } = ctx;
    const { scratch, started } = fixtures(ctx);
    const db = await scratch();
    const table = await partitionAnalytics(db.pool, { today: new Date(), daysBack: 2, daysAhead: 2, rowsPerDay: 5_000, defaultRows: 10 });
    const env = { DATABASE_URL: db.url, ROLLOUT_PLAN: fastPlanFile(), ROLLOUT_USER: 'alice' };
    const statements = await indexSteps(db.pool);
    // What a DBA prints, as any role that can read the catalog: the same statements.
    expect((await runPsqlFile(db.url, 'analytics-index.psql', { print: '1' })).trim().split('\n')).toEqual(statements);

    const refused = await BotProcess.start(env).catch((e: Error) => e.message);
    expect(refused).toContain(
      `rollout-bot: the analytics index (event_type, created_at) is missing on analytics_logs (partitioned, ${table.leaves.length} partitions), and the bot's role rollout_bot cannot build it`,
    );
    expect(refused).toContain('psql "$OWNER_DATABASE_URL" -v ON_ERROR_STOP=1 -f sql/analytics-index.psql');
    expect(refused).toContain(statements.join('\n'));

    const optedOut = started(await BotProcess.start({ ...env, ROLLOUT_CREATE_INDEX: 'false' }));
    expect(optedOut.output).toContain(`analytics index: missing on analytics_logs (partitioned, ${table.leaves.length} partitions)`);
    expect(optedOut.output).toContain(statements[0]);
    await optedOut.kill();
    expect(await parentIndex(db.pool)).toBeNull();

    // The DBA's way: the file with psql, as the owner.
    expect(await runPsqlFile(db.ownerUrl, 'analytics-index.psql')).toContain('analytics index: valid');
    for (const l of await leafIndexes(db.pool))
      expect(l).toMatchObject({ valid: true, parent: 'analytics_logs_event_type_created_at_idx' });
    const bot = started(await BotProcess.start(env));
    expect(bot.output).not.toContain('analytics index (');
    expect(await one(db.pool, `SELECT count(*)::int AS n FROM rollout.migrations WHERE name = '003_analytics_index.sql'`)).toEqual({
      n: 1,
    });
  });

  it('a plain table: an invalid index left by an interrupted CONCURRENTLY build is dropped and built again', async (ctx) => {
    const { expect } = ctx;
    const { cleanup, scratch, started } = fixtures(ctx);
    const db = await scratch();
    await db.pool.query('DROP INDEX analytics_logs_event_type_created_at_idx');
    await db.pool.query(`DELETE FROM rollout.migrations WHERE name = '003_analytics_index.sql'`);
    await db.pool.query(
      `INSERT INTO analytics_logs (event_type, created_at) SELECT 'gen_route', now() - i * interval '1 second' FROM generate_series(1, 20000) i`,
    );
    // Interrupted: the build waits for a write in flight, and is cancelled there.
    const holder = new pg.Client({ connectionString: db.ownerUrl });
    await holder.connect();
    cleanup(() => holder.end());
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE analytics_logs IN ROW EXCLUSIVE MODE');
    const builder = new pg.Client({ connectionString: db.ownerUrl, application_name: 'dba' });
    await builder.connect();
    cleanup(() => builder.end());
    const build = builder
      .query('CREATE INDEX CONCURRENTLY analytics_logs_event_type_created_at_idx ON analytics_logs (event_type, created_at)')
      .catch((e: Error) => e.message);
    await eventually(
      () =>
        one(
          db.pool,
          `SELECT 1 AS waiting FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'dba' AND wait_event_type = 'Lock'`,
        ),
      (r) => !!r,
      10_000,
      'the build waiting',
    );
    await db.pool.query(
      `SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'dba'`,
    );
    expect(await build).toContain('canceling statement');
    await holder.query('ROLLBACK');
    const index = `SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass('analytics_logs_event_type_created_at_idx')`;
    expect(await one(db.pool, index)).toEqual({ valid: false });
    expect(await indexSteps(db.pool)).toEqual([
      'DROP INDEX CONCURRENTLY IF EXISTS public.analytics_logs_event_type_created_at_idx;',
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS analytics_logs_event_type_created_at_idx ON public.analytics_logs (event_type, created_at);',
    ]);

    started(await BotProcess.start({ DATABASE_URL: db.ownerUrl, ROLLOUT_PLAN: fastPlanFile(), ROLLOUT_USER: 'alice' }));
    expect(await one(db.pool, index)).toEqual({ valid: true });
  });
});

describe.concurrent('migration failures at start', () => {
  it('say what went wrong and what to do: no schema and no right to create one points at sql/roles.sql', async (ctx) => {
    const { expect } = ctx;
    const { scratch } = fixtures(ctx);
    const db = await scratch();
    await db.pool.query('DROP SCHEMA rollout CASCADE');
    const refused = await BotProcess.start({ DATABASE_URL: db.url, ROLLOUT_PLAN: fastPlanFile() }).catch((e: Error) => e.message);
    expect(refused).toContain(
      `rollout-bot: cannot create the bot's schema "rollout": permission denied for database ${new URL(db.url).pathname.slice(1)} (42501). ` +
        'The bot keeps its state in its own schema: run sql/roles.sql as a superuser once',
    );
    expect(refused).not.toContain('analytics');
  });
});
