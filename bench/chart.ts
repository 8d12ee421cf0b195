/*
 * npm run bench:chart — the stage chart over 3 h (data: one bucketed read + latency histograms;
 * render: ECharts SVG; encode: resvg PNG) on real Postgres, at the production rate of the
 * 10 M-row bench shape (CHART_ROWS sets the table size; the 3 h window holds the same rows at
 * every size). Prints; asserts nothing. CHART_KEEP=1 keeps the loaded database between runs.
 */
import { stageChart } from '../src/engine/chart.ts';
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
// Whole reads: a new process drawing the 3 h ending at END (what the chart command does).
const whole: Awaited<ReturnType<typeof draw>>[] = [];
for (let i = 0; i < 6; i++) whole.push(await draw(service(db, benchPlan(), new Clock(END.getTime()))));
// Reports: the leader draws the stage so far every 15 min; its cache keeps the settled buckets.
const clock = new Clock(END.getTime() - 90 * 60_000);
const leader = service(db, benchPlan(), clock);
const first = await draw(leader);
const steady: Awaited<ReturnType<typeof draw>>[] = [];
for (let i = 0; i < 6; i++) {
  clock.t += 15 * 60_000;
  steady.push(await draw(leader));
}
const w = whole.slice(1);
console.log(
  `chart 3 h, read whole (a new process; first ${whole[0].total.toFixed(0)} ms): median ${median(w.map((r) => r.total)).toFixed(0)} ms data + render + encode (render ${median(w.map((r) => r.render)).toFixed(0)} ms, encode ${median(w.map((r) => r.encode)).toFixed(0)} ms); PNG ${Math.round(w[0].bytes / 1024)} KB`,
);
console.log(
  `chart 3 h, every 15 min as the leader draws reports (first ${first.total.toFixed(0)} ms): median ${median(steady.map((r) => r.total)).toFixed(0)} ms data + render + encode, runs ${steady.map((r) => r.total.toFixed(0)).join(', ')} ms`,
);
await db.close();
if (!keep) await dropDatabase(base, NAME);
