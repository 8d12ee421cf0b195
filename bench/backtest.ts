/*
 * npm run bench:backtest — the backtest over 24 h and 7 days of a 10 M-row analytics_logs
 * (the bench's shape), on real Postgres. Prints; asserts nothing.
 * BACKTEST_KEEP=1 keeps (and reuses) the loaded database between runs.
 */
import { backtest } from '../src/engine/backtest.ts';
import { loadAnalytics, shapeFor } from './data.ts';
import { benchPlan, benchPool, Clock, databaseUrl, dropDatabase, openBot, recreateDatabase, service } from './engine.ts';

const base = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
if (!base) {
  console.error('bench:backtest needs BENCH_DATABASE_URL or TEST_DATABASE_URL');
  process.exit(2);
}
const NAME = 'rollout_bench_backtest';
const ROWS = Number(process.env.BACKTEST_ROWS ?? 10_000_000);
const END = new Date('2026-11-28T15:00:00Z');
const url = databaseUrl(base, NAME);
const keep = process.env.BACKTEST_KEEP === '1';

const pool = benchPool(databaseUrl(base, 'postgres'));
const exists = (await pool.query('SELECT 1 FROM pg_database WHERE datname = $1', [NAME])).rows.length > 0;
await pool.end();
if (!keep || !exists) {
  await recreateDatabase(base, NAME);
  const load = benchPool(url);
  const r = await loadAnalytics(load, shapeFor(ROWS, END, 'rate'), 90);
  await load.end();
  console.log(`loaded ${r.rows.toLocaleString('en-US')} rows in ${r.seconds.toFixed(0)} s`);
}
const db = await openBot(url, true);
const svc = service(db, benchPlan(), new Clock(END.getTime()));
for (const [label, since] of [
  ['24 h', 86_400_000],
  ['7 days', 7 * 86_400_000],
] as const) {
  const times: number[] = [];
  let last: Awaited<ReturnType<typeof backtest>> | undefined;
  for (let i = 0; i < 3; i++) {
    last = await backtest(svc, since);
    times.push(last.tookMs);
  }
  times.sort((a, b) => a - b);
  console.log(
    `backtest ${label}: median ${(times[1] / 1000).toFixed(2)} s (runs: ${times.map((t) => (t / 1000).toFixed(2)).join(', ')}), ${last!.rowsRead.toLocaleString('en-US')} rows, ${last!.evaluations} evaluations, ${last!.rollbacks.length} would-be rollbacks`,
  );
}
await db.close();
if (!keep) await dropDatabase(base, NAME);
