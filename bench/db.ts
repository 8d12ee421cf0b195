/*
 * npm run bench:db — what the whole bot costs the production database, measured from outside:
 * pg_stat_statements, filtered to the bot's own role (sql/roles.sql's rollout_bot) and database,
 * summed per evaluation. Every query the bot sends counts: the guard, the checklist refresh, the
 * reports, the outbox. It prints; it asserts nothing.
 *
 * Per size (BENCH_DB_SIZES, millions of rows, default 1,10; the production rate is fixed, so a
 * bigger table is more history and the same windows), in database rollout_benchdb_<size>m,
 * loaded once and reused by later runs (BENCH_DB_RELOAD=1 reloads):
 *   - steady state: a run in D1 (baseline from the plan), evaluateEvery 5 s, the clock advancing
 *     5 s a cycle and ending at the data's last instant; per cycle the guard, the checklist
 *     refresh's reads (latest run, its message, status with preferGuard), the outbox drain, and a
 *     report at every quarter hour of the clock (reportCron). BENCH_DB_WARMUP cycles (150) are
 *     run first, then pg_stat_statements is reset and BENCH_DB_CYCLES (360: 30 min of clock) run;
 *   - the first evaluation after a start: a new engine (empty per-minute cache, new sessions),
 *     one cycle, BENCH_DB_FIRST times (3), each on fresh statistics.
 *
 * Needs pg_stat_statements in shared_preload_libraries (ALTER SYSTEM SET shared_preload_libraries
 * = 'pg_stat_statements' and a restart); the bench says so and stops when it is missing.
 * Cold caches: the bot's own cache and sessions are new at each first evaluation; Postgres'
 * buffers and the OS page cache are whatever they are (shared_blks_read tells how much came from
 * outside shared_buffers).
 */
import pg from 'pg';
import { loadAnalytics, shapeFor } from './data.ts';
import { ADMIN, benchPlan, benchPool, Clock, databaseUrl, service } from './engine.ts';
import { log } from './timing.ts';
import { int, table } from './report.ts';
import { openDatabase, type Database } from '../src/db/database.ts';
import { migrate, readSqlFile, splitStatements } from '../src/db/migrate.ts';
import { buildAnalyticsIndex } from '../src/db/analytics-index.ts';
import { guardCycle } from '../src/engine/guard.ts';
import { reportCycle } from '../src/engine/reporter.ts';
import { deliverOutbox } from '../src/engine/outbox.ts';
import { warmChartBuckets } from '../src/engine/chart-warm.ts';
import type { RolloutService } from '../src/engine/service.ts';
import * as store from '../src/db/store.ts';
import { keys, slackStore } from '../src/slack/store.ts';

const env = (k: string, d: string) => process.env[k] ?? d;
export const base = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
const SIZES = env('BENCH_DB_SIZES', '1,10')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const WARMUP = Number(env('BENCH_DB_WARMUP', '150'));
const CYCLES = Number(env('BENCH_DB_CYCLES', '360'));
const FIRST = Number(env('BENCH_DB_FIRST', '3'));
const RELOAD = env('BENCH_DB_RELOAD', '0') === '1';
/**
 * BENCH_DB_COLD=1: before each first evaluation, restart the local Postgres (empty
 * shared_buffers) and drop the OS page cache, so "cold" means cold. Needs root and a local
 * cluster (pg_ctlcluster); it disturbs anything else using that server.
 */
const COLD = env('BENCH_DB_COLD', '0') === '1';
export const END = new Date(env('BENCH_END', '2026-11-28T15:00:00Z'));
const EVERY = 5_000;
export const BOT_ROLE = 'rollout_bot';

const withUser = (url: string, user: string) => {
  const u = new URL(url);
  u.username = user;
  u.password = '';
  return u.toString();
};

export async function one<T = any>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** The database of one size, shaped like production: app tables by their owner, roles.sql, the bot's schema migrated by the bot's role. */
export async function prepare(millions: number): Promise<string> {
  const name = `rollout_benchdb_${String(millions).replace('.', '_')}m`;
  const url = databaseUrl(base!, name);
  const exists = (await one(base!, 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length > 0;
  const loaded =
    exists &&
    !RELOAD &&
    (await one(url, `SELECT obj_description('public.analytics_logs'::regclass) AS c`).catch(() => [{ c: null }]))[0].c ===
      `bench ${END.toISOString()}`;
  if (loaded) {
    log(`${millions} M: reusing ${name}`);
  } else {
    if (exists) await one(base!, `DROP DATABASE ${name} WITH (FORCE)`);
    await one(base!, `CREATE DATABASE ${name}`);
    const pool = benchPool(url);
    const shape = shapeFor(Math.round(millions * 1_000_000), END, 'rate');
    log(`${millions} M: loading ${(shape.minutes / 60).toFixed(1)} h of traffic into ${name}…`);
    const load = await loadAnalytics(pool, shape, 90);
    log(`${millions} M: ${int(load.rows)} rows in ${load.seconds.toFixed(0)} s; roles and index…`);
    await pool.query(readSqlFile('001_app_tables.sql'));
    for (const statement of splitStatements(readSqlFile('roles.sql'))) await pool.query(statement);
    // roles.sql's last step, its \ir analytics-index.psql, is psql's: the same build, as the owner.
    await pool.connect().then((c) => buildAnalyticsIndex(c, () => {}).finally(() => c.release()));
    await pool.query(`COMMENT ON TABLE analytics_logs IS 'bench ${END.toISOString()}'`);
    await pool.end();
  }
  await one(url, 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  const bot = new pg.Pool({ connectionString: withUser(url, BOT_ROLE), max: 1 });
  await migrate(bot, { createAnalyticsIndex: true });
  // A fresh rollout each run: the bot's own tables emptied (as their owner, the bot's role).
  await bot.query(
    'TRUNCATE rollout.runs, rollout.requests, rollout.audit, rollout.outbox, rollout.reports, rollout.guard_state, rollout.slack_messages RESTART IDENTITY CASCADE',
  );
  await bot.end();
  await one(url, 'DELETE FROM public.feature_flags');
  return url;
}

interface Statement {
  query: string;
  calls: number;
  ms: number;
  rows: number;
  hit: number;
  read: number;
}

export async function resetStats(url: string) {
  await one(url, 'SELECT pg_stat_statements_reset()');
}

export async function readStats(url: string): Promise<Statement[]> {
  const rows = await one(
    url,
    `
    SELECT query, calls::int, total_exec_time AS ms, rows::bigint, shared_blks_hit::bigint AS hit, shared_blks_read::bigint AS read
    FROM pg_stat_statements
    WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = $1) AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    ORDER BY total_exec_time DESC`,
    [BOT_ROLE],
  );
  return rows.map((r) => ({ ...r, rows: Number(r.rows), hit: Number(r.hit), read: Number(r.read) }));
}

const sink = { deliver: async () => {}, notice: async () => {} };

/**
 * One evaluation as the running bot does it: guard, checklist refresh's reads, outbox; a report on
 * each quarter hour; the leader's chart buckets (a pass after each evaluation: a bucket read once
 * it settles, a start's backfill over the first passes).
 */
export async function cycle(svc: RolloutService, clock: Clock): Promise<void> {
  const { db } = svc.deps;
  await guardCycle(svc);
  const run = await store.latestRun(db.pool);
  if (run) await slackStore(db).message(keys.checklist(run.id, run.state));
  await svc.status({ preferGuard: true });
  if (clock.t % (15 * 60_000) < EVERY) await reportCycle(svc);
  await deliverOutbox(db.pool, sink, svc.deps.now);
  await warmChartBuckets(svc);
}

/** A short, readable label for a statement. */
function label(q: string): string {
  const s = q.replace(/\s+/g, ' ').trim();
  if (/date_bin/.test(s)) return s.includes('provider') ? 'metrics: per-minute gen_route sums' : 'metrics: per-minute voucher/gen_ok sums';
  if (/percentile_cont/.test(s)) return 'metrics: one-shot route window with p95';
  if (/event_type = 'gen_route'/.test(s)) return 'metrics: one-shot route window';
  if (/voucher_issued/.test(s)) return 'metrics: one-shot voucher window';
  return s.length > 70 ? `${s.slice(0, 67)}…` : s;
}

export function breakdown(stmts: Statement[], per: number): string {
  const total = stmts.reduce((a, s) => a + s.ms, 0);
  const groups = new Map<string, Statement>();
  for (const s of stmts) {
    const k = label(s.query);
    const g = groups.get(k) ?? { query: k, calls: 0, ms: 0, rows: 0, hit: 0, read: 0 };
    g.calls += s.calls;
    g.ms += s.ms;
    g.rows += s.rows;
    g.hit += s.hit;
    g.read += s.read;
    groups.set(k, g);
  }
  const rows = [...groups.values()]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 14)
    .map((g) => [
      g.query,
      (g.calls / per).toFixed(2),
      (g.ms / per).toFixed(3),
      ((100 * g.ms) / total).toFixed(1),
      int(Math.round(g.read / per)),
    ]);
  return table(
    ['statement (bot role)', 'calls / eval', 'ms / eval', '%', 'blks read / eval'],
    [
      ...rows,
      'rule',
      [
        'total',
        (stmts.reduce((a, s) => a + s.calls, 0) / per).toFixed(1),
        (total / per).toFixed(2),
        '100',
        int(Math.round(stmts.reduce((a, s) => a + s.read, 0) / per)),
      ],
    ],
  );
}

export async function openBot(url: string): Promise<Database> {
  return openDatabase({ databaseUrl: withUser(url, BOT_ROLE) });
}

/** The bot's database time per evaluation at one size: steady state and first evaluations after a start. */
export async function benchSize(millions: number) {
  const url = await prepare(millions);
  const plan = benchPlan({ evaluateEvery: '5s', baselineCostPerImage: 0.005 });
  const clock = new Clock(END.getTime() - (WARMUP + CYCLES) * EVERY);

  // Steady state.
  let db = await openBot(url);
  let svc = service(db, plan, clock);
  const started = await svc.handle('d1', ADMIN);
  if (started.outcome.kind !== 'stage_started') throw new Error(`bench:db could not start D1: ${JSON.stringify(started.outcome)}`);
  log(`${millions} M: ${WARMUP} warm-up cycles…`);
  for (let i = 0; i < WARMUP; i++) {
    clock.t += EVERY;
    await cycle(svc, clock);
  }
  await resetStats(url);
  log(`${millions} M: ${CYCLES} measured cycles…`);
  const t = performance.now();
  for (let i = 0; i < CYCLES; i++) {
    clock.t += EVERY;
    await cycle(svc, clock);
  }
  const wallMs = (performance.now() - t) / CYCLES;
  const steady = await readStats(url);
  await db.close();

  // The first evaluation after a start: new engine, new sessions, empty cache.
  const firsts: { ms: number; read: number; stmts: Statement[] }[] = [];
  for (let i = 0; i < FIRST; i++) {
    if (COLD) await coldStart();
    db = await openBot(url);
    svc = service(db, plan, clock);
    await resetStats(url);
    clock.t += EVERY;
    await cycle(svc, clock);
    const s = await readStats(url);
    firsts.push({ ms: s.reduce((a, x) => a + x.ms, 0), read: s.reduce((a, x) => a + x.read, 0), stmts: s });
    await db.close();
  }
  return { millions, steady, steadyMs: steady.reduce((a, s) => a + s.ms, 0) / CYCLES, wallMs, firsts };
}

async function coldStart(): Promise<void> {
  const { execFileSync } = await import('node:child_process');
  const { readdirSync, writeFileSync } = await import('node:fs');
  const version = readdirSync('/etc/postgresql')[0];
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart']);
  execFileSync('sync');
  writeFileSync('/proc/sys/vm/drop_caches', '3');
  for (let i = 0; i < 50; i++) {
    try {
      await one(base!, 'SELECT 1');
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** null when pg_stat_statements is loaded; else what to do about it. */
export async function statStatementsMissing(): Promise<string | null> {
  const preload = (await one(base!, 'SHOW shared_preload_libraries'))[0].shared_preload_libraries as string;
  if (
    preload
      .split(',')
      .map((s) => s.trim())
      .includes('pg_stat_statements')
  )
    return null;
  return (
    `bench:db measures through pg_stat_statements, which this server does not load (shared_preload_libraries = '${preload}'). ` +
    `As a superuser: ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'; then restart Postgres ` +
    `(e.g. pg_ctlcluster --skip-systemctl-redirect 15 main restart), and run the bench again.`
  );
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

async function main() {
  if (!base) {
    console.error(
      'npm run bench:db needs BENCH_DATABASE_URL or TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres), as a superuser.',
    );
    process.exit(2);
  }
  const missing = await statStatementsMissing();
  if (missing) {
    console.error(missing);
    process.exit(3);
  }
  const results = [];
  for (const m of SIZES) results.push(await benchSize(m));
  console.log(
    `\nDatabase time of the bot's role (pg_stat_statements total_exec_time), evaluateEvery 5 s, clock ending ${END.toISOString()}`,
  );
  for (const r of results) {
    console.log(
      `\n${r.millions} M rows — steady state, per evaluation over ${CYCLES} evaluations (after ${WARMUP} warm-up), wall ${r.wallMs.toFixed(1)} ms per cycle:`,
    );
    console.log(breakdown(r.steady, CYCLES));
    const sorted = [...r.firsts].sort((a, b) => a.ms - b.ms);
    console.log(
      `first evaluation after a start (new engine and sessions): ${r.firsts.map((f) => `${f.ms.toFixed(1)} ms (${int(f.read)} blocks read)`).join(', ')}`,
    );
    if (sorted.length) console.log(breakdown(sorted[Math.floor(sorted.length / 2)].stmts, 1));
  }
  const one1 = results.find((r) => r.millions === 1);
  const ten = results.find((r) => r.millions === 10);
  console.log('');
  console.log(
    table(
      ['bot database time per evaluation', ...results.map((r) => `${r.millions} M`), '10 M ÷ 1 M'],
      [
        [
          'steady state (ms)',
          ...results.map((r) => r.steadyMs.toFixed(2)),
          one1 && ten ? `${(ten.steadyMs / one1.steadyMs).toFixed(2)}×` : '—',
        ],
        [
          'first evaluation after a start (ms, median)',
          ...results.map((r) => {
            const s = r.firsts.map((f) => f.ms).sort((a, b) => a - b);
            return s.length ? s[Math.floor(s.length / 2)].toFixed(1) : '—';
          }),
          '',
        ],
      ],
    ),
  );
  console.log('targets: steady ≤ 25 ms at 10 M and ≤ 1.5× the 1 M figure; first evaluation ≤ 500 ms');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
