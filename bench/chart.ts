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
const svc = service(db, benchPlan(), new Clock(END.getTime()));
const runs: { total: number; render: number; encode: number; bytes: number }[] = [];
for (let i = 0; i < 6; i++) {
  const t0 = performance.now();
  const chart = await stageChart(svc, { sinceMs: 3 * 3_600_000 });
  const total = performance.now() - t0;
  // The render and encode share, measured apart on the same spec.
  const t1 = performance.now();
  const svg = renderSvg(chart.spec);
  const t2 = performance.now();
  svgToPng(svg);
  runs.push({ total, render: t2 - t1, encode: performance.now() - t2, bytes: chart.png.length });
}
const warm = runs.slice(1).sort((a, b) => a.total - b.total);
const mid = warm[Math.floor(warm.length / 2)];
console.log(`chart 3 h (first run, cold: ${runs[0].total.toFixed(0)} ms): median ${mid.total.toFixed(0)} ms data + render + encode (render ${mid.render.toFixed(0)} ms, encode ${mid.encode.toFixed(0)} ms), runs ${warm.map((r) => r.total.toFixed(0)).join(', ')} ms; PNG ${Math.round(mid.bytes / 1024)} KB`);
await db.close();
if (!keep) await dropDatabase(base, NAME);
