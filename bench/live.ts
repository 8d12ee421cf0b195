/*
 * npm run bench:live — the whole bot's database time per evaluation with live traffic: while D1
 * runs and the bot evaluates every 5 s (guard, checklist refresh, status, outbox, a report each
 * quarter hour: bench/db.ts's cycle), the app inserts generation traffic at BENCH_LIVE_RATES
 * requests a second (default 10,100): per request a gen_route, a gen_ok for a success, ~3 %
 * vouchers, plus the unrelated events (a quarter of all rows), 5 % of the requests logged late
 * (created_at 5–110 s in the past); each 5 s batch is written in time order, as an app logs them. Measured from outside, as bench:db does: pg_stat_statements
 * of the bot's role, read after every evaluation, so each evaluation is one sample (its time,
 * statements and shared blocks, hit or read). The app's inserts are another role's and not counted.
 *
 * Per size (BENCH_LIVE_SIZES, default 1,10: bench:db's databases, loaded once and reused) and
 * rate: the clock starts at the data's end, BENCH_LIVE_WARMUP evaluations (36: 3 min, past the
 * first read and the settle interval) then BENCH_LIVE_CYCLES (240: 20 min of clock) measured.
 * The live rows of earlier runs are deleted first. It prints; it asserts nothing.
 *
 * Needs pg_stat_statements in shared_preload_libraries (see bench/db.ts). Without it on a shared
 * server, run a private cluster for the bench, e.g. (as the postgres user):
 *   initdb -D /tmp/pg -A trust -U postgres && echo "port = 5499
 *   shared_preload_libraries = 'pg_stat_statements'" >> /tmp/pg/postgresql.conf && pg_ctl -D /tmp/pg start
 * and BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5499/postgres npm run bench:live.
 */
import pg from 'pg';
import { BOT_ROLE, base, cycle, END, one, openBot, prepare, readStats, resetStats, statStatementsMissing, breakdown } from './db.ts';
import { ADMIN, benchPlan, Clock, service } from './engine.ts';
import { log } from './timing.ts';
import { int, table } from './report.ts';
import { guardWindows } from '../src/engine/guard.ts';

const env = (k: string, d: string) => process.env[k] ?? d;
const list = (k: string, d: string) =>
  env(k, d)
    .split(',')
    .map(Number)
    .filter((n) => n > 0);
const SIZES = list('BENCH_LIVE_SIZES', '1,10');
const RATES = list('BENCH_LIVE_RATES', '10,100');
const WARMUP = Number(env('BENCH_LIVE_WARMUP', '36'));
const CYCLES = Number(env('BENCH_LIVE_CYCLES', '240'));
const EVERY = 5_000;
const TARGET = (rate: number) => (rate <= 10 ? 10 : 25);

/** The app's rows for the requests of (t − 5 s, t]: route, gen_ok, vouchers, unrelated events; 5 % of requests late. */
const LIVE_SQL = `
WITH req AS MATERIALIZED (
  SELECT CASE WHEN random() < 0.05 THEN $1::timestamptz - (5 + 105 * random()) * interval '1 second'
              ELSE $1::timestamptz - random() * interval '5 seconds' END AS ts,
         CASE WHEN random() < 0.1 THEN 'runware' ELSE 'fal' END AS provider,
         round(exp(ln(2500) + 0.53 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))) AS latency,
         random() AS r_err, random() AS r_cost, random() AS r_voucher
  FROM generate_series(1, $2::int)
)
INSERT INTO analytics_logs (event_type, event_data, created_at)
SELECT 'gen_route', jsonb_strip_nulls(jsonb_build_object('provider', provider, 'latency_ms', latency,
         'error', CASE WHEN r_err < 0.007 THEN 'timeout' END,
         'cost_per_image', CASE WHEN r_cost >= 0.05 THEN round((0.0045 + 0.0004 * r_cost)::numeric, 5) END)), ts
FROM req
UNION ALL SELECT 'gen_ok', jsonb_build_object('provider', provider, 'images', 1), ts FROM req WHERE r_err >= 0.007
UNION ALL SELECT 'voucher_issued', jsonb_build_object('reason', CASE WHEN r_voucher < 0.02 THEN 'regenerate' ELSE 'support' END), ts
FROM req WHERE r_voucher < 0.03
UNION ALL SELECT 'page_view', jsonb_build_object('path', '/p/1'), ts FROM req WHERE random() < 0.7
ORDER BY 3`;

interface Sample {
  ms: number;
  calls: number;
  blocks: number;
}

interface Result {
  millions: number;
  rate: number;
  samples: Sample[];
  top: string;
  rowsPerEval: number;
  minutesPerMinute: number;
  wholeHeads: number;
  reads: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : Number.NaN;
};
const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;

async function live(millions: number, rate: number): Promise<Result> {
  const url = await prepare(millions);
  const app = new pg.Client({ connectionString: url });
  await app.connect();
  // The live rows of an earlier run, and their dead tuples: the same table at every run.
  const { rowCount } = await app.query('DELETE FROM analytics_logs WHERE created_at > $1', [END]);
  if (rowCount) await app.query('VACUUM analytics_logs');
  const totalsSql = `SELECT coalesce(sum(total_exec_time), 0)::float8 AS ms, coalesce(sum(calls), 0)::int8 AS calls,
    coalesce(sum(shared_blks_hit + shared_blks_read), 0)::int8 AS blocks
    FROM pg_stat_statements WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = $1) AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`;
  const totals = async () => {
    const r = (await app.query(totalsSql, [BOT_ROLE])).rows[0];
    return { ms: r.ms as number, calls: Number(r.calls), blocks: Number(r.blocks) };
  };

  const plan = benchPlan({ evaluateEvery: '5s', baselineCostPerImage: 0.005 });
  const clock = new Clock(END.getTime());
  const db = await openBot(url);
  const svc = service(db, plan, clock);
  const started = await svc.handle('d1', ADMIN);
  if (started.outcome.kind !== 'stage_started') throw new Error(`bench:live could not start D1: ${JSON.stringify(started.outcome)}`);
  const step = async () => {
    clock.t += EVERY;
    await app.query(LIVE_SQL, [new Date(clock.t), Math.round((rate * EVERY) / 1000)]);
    await cycle(svc, clock);
  };
  log(`${millions} M, ${rate} req/s: ${WARMUP} warm-up evaluations…`);
  for (let i = 0; i < WARMUP; i++) await step();
  const before = guardWindows(svc).totals;
  await resetStats(url);
  log(`${millions} M, ${rate} req/s: ${CYCLES} measured evaluations…`);
  const samples: Sample[] = [];
  let last = await totals();
  for (let i = 0; i < CYCLES; i++) {
    await step();
    const now = await totals();
    samples.push({ ms: now.ms - last.ms, calls: now.calls - last.calls, blocks: now.blocks - last.blocks });
    last = now;
  }
  const after = guardWindows(svc).totals;
  const stmts = await readStats(url);
  const buckets = stmts.filter((s) => /date_bin/.test(s.query));
  await db.close();
  await app.end();
  return {
    millions,
    rate,
    samples,
    top: breakdown(stmts, CYCLES),
    rowsPerEval: buckets.reduce((a, s) => a + s.rows, 0) / CYCLES,
    minutesPerMinute: (after.minutes - before.minutes) / ((CYCLES * EVERY) / 60_000),
    wholeHeads: after.wholeHeads - before.wholeHeads,
    reads: after.reads - before.reads,
  };
}

async function main() {
  if (!base) {
    console.error('npm run bench:live needs BENCH_DATABASE_URL or TEST_DATABASE_URL, as a superuser.');
    process.exit(2);
  }
  const missing = await statStatementsMissing();
  if (missing) {
    console.error(missing);
    process.exit(3);
  }
  const results: Result[] = [];
  for (const m of SIZES) for (const r of RATES) results.push(await live(m, r));
  for (const r of results) {
    console.log(`\n${r.millions} M rows, ${r.rate} req/s live — per evaluation over ${CYCLES} evaluations (bot role, pg_stat_statements):`);
    console.log(r.top);
  }
  console.log(`\nWhole-bot database time per evaluation with live traffic (evaluateEvery 5 s; ${CYCLES} evaluations after ${WARMUP}):`);
  console.log(
    table(
      [
        'size',
        'req/s',
        'ms mean',
        'ms p50',
        'ms p95',
        'ms max',
        'statements',
        'blocks (hit+read)',
        'bucket rows out',
        'whole min / min',
        'head read whole',
        'target',
      ],
      results.map((r) => [
        `${r.millions} M`,
        String(r.rate),
        mean(r.samples.map((s) => s.ms)).toFixed(2),
        pct(
          r.samples.map((s) => s.ms),
          0.5,
        ).toFixed(2),
        pct(
          r.samples.map((s) => s.ms),
          0.95,
        ).toFixed(2),
        Math.max(...r.samples.map((s) => s.ms)).toFixed(2),
        mean(r.samples.map((s) => s.calls)).toFixed(1),
        int(Math.round(mean(r.samples.map((s) => s.blocks)))),
        r.rowsPerEval.toFixed(0),
        r.minutesPerMinute.toFixed(2),
        `${r.wholeHeads} of ${r.reads} reads`,
        `≤ ${TARGET(r.rate)} ms`,
      ]),
    ),
  );
  for (const rate of RATES) {
    const a = results.find((r) => r.millions === 1 && r.rate === rate);
    const b = results.find((r) => r.millions === 10 && r.rate === rate);
    if (a && b)
      console.log(
        `${rate} req/s: 10 M ÷ 1 M = ${(mean(b.samples.map((s) => s.ms)) / mean(a.samples.map((s) => s.ms))).toFixed(2)}× (target ≤ 1.5×)`,
      );
  }
  await one(base, 'SELECT 1');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
