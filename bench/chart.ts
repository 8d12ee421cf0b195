/*
 * npm run bench:chart — the stage chart over 3 h (data: the leader's persisted buckets plus the
 * unsettled minutes read raw, or the whole span raw when nothing is persisted; render: ECharts
 * SVG; encode: resvg PNG) on real Postgres, at the production rate of the 10 M-row bench shape
 * (CHART_ROWS sets the table size; the 3 h window holds the same rows at every size). Prints;
 * asserts nothing. CHART_KEEP=1 keeps the loaded database between runs.
 */
import { stageChart } from '../src/engine/chart.ts';
import { warmChartBuckets } from '../src/engine/chart-warm.ts';
import { renderSvg, svgToPng } from '../src/adapters/chart-png.ts';
import { loadAnalytics, shapeFor } from './data.ts';
import { benchPlan, benchPool, Clock, databaseUrl, dropDatabase, openBot, recreateDatabase, service } from './engine.ts';

const base = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
if (!base) {
  console.error('bench:chart needs BENCH_DATABASE_URL or TEST_DATABASE_URL');
  process.exit(2);
}
const NAME = 'rollout_bench_chart';
const ROWS = Number(process.env.CHART_ROWS ?? 10_000_000);
const END = new Date('2026-11-28T15:00:00Z');
const url = databaseUrl(base, NAME);
const keep = process.env.CHART_KEEP === '1';

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
const draw = async (svc: ReturnType<typeof service>) => {
  const t0 = performance.now();
  const chart = await stageChart(svc, { sinceMs: 3 * 3_600_000 });
  const total = performance.now() - t0;
  // The render and encode share, measured apart on the same spec.
  const t1 = performance.now();
  const svg = renderSvg(chart.spec);
  const t2 = performance.now();
  svgToPng(svg);
  return { total, render: t2 - t1, encode: performance.now() - t2, bytes: chart.png.length };
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
type Draw = Awaited<ReturnType<typeof draw>>;
/** Six new processes drawing the 3 h ending at END (what the chart command does); the first apart. */
const wholeReads = async (): Promise<{ first: Draw; rest: Draw[] }> => {
  const runs: Draw[] = [];
  for (let i = 0; i < 6; i++) runs.push(await draw(service(db, benchPlan(), new Clock(END.getTime()))));
  return { first: runs[0], rest: runs.slice(1) };
};
const line = (what: string, r: { first: Draw; rest: Draw[] }) =>
  `chart 3 h, ${what} (first ${r.first.total.toFixed(0)} ms): median ${median(r.rest.map((x) => x.total)).toFixed(0)} ms data + render + encode (render ${median(r.rest.map((x) => x.render)).toFixed(0)} ms, encode ${median(r.rest.map((x) => x.encode)).toFixed(0)} ms); PNG ${Math.round(r.first.bytes / 1024)} KB`;
/** The leader's warming passes at `at` until nothing is left to read (a start's backfill). */
const warmAll = async (at: number): Promise<{ buckets: number; ms: number }> => {
  const leader = service(db, benchPlan(), new Clock(at));
  const t0 = performance.now();
  let buckets = 0;
  for (let more = true; more; ) {
    const r = await warmChartBuckets(leader);
    buckets += r.buckets;
    more = r.pending;
  }
  return { buckets, ms: performance.now() - t0 };
};

// Cold: nothing persisted (a leader that has not warmed yet, or a rehearsal): the whole 4 h raw.
await db.pool.query('TRUNCATE rollout.chart_buckets');
const cold = await wholeReads();
// The leader's backfill at start, then the same reads from the persisted buckets.
const backfill = await warmAll(END.getTime());
const whole = await wholeReads();
// Reports: the leader draws the stage so far every 15 min; between them it warmed each bucket as
// it settled (not timed here), and its own cache keeps what it read.
const clock = new Clock(END.getTime() - 90 * 60_000);
const leader = service(db, benchPlan(), clock);
await warmAll(clock.t);
const first = await draw(leader);
const steady: Draw[] = [];
for (let i = 0; i < 6; i++) {
  clock.t += 15 * 60_000;
  await warmAll(clock.t);
  steady.push(await draw(leader));
}
const target = (ms: number) => (ms <= 300 ? 'target ≤ 300 ms: met' : 'target ≤ 300 ms: NOT met');
const wholeMs = median(whole.rest.map((x) => x.total));
console.log(`${line("read whole (a new process), from the leader's persisted buckets", whole)}; ${target(wholeMs)}`);
console.log(
  `${line('read whole cold (a new process, nothing persisted: the 4 h raw)', cold)}; ${target(median(cold.rest.map((x) => x.total)))}`,
);
console.log(
  `the leader's backfill of ${backfill.buckets} buckets (${((backfill.buckets * 30) / 3600).toFixed(0)} h at 30 s) took ${backfill.ms.toFixed(0)} ms`,
);
console.log(
  `chart 3 h, every 15 min as the leader draws reports (first ${first.total.toFixed(0)} ms): median ${median(steady.map((r) => r.total)).toFixed(0)} ms data + render + encode, runs ${steady.map((r) => r.total.toFixed(0)).join(', ')} ms`,
);
await db.close();
if (!keep) await dropDatabase(base, NAME);
