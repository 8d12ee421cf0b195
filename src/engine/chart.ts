import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { RED_LINES, type Plan } from '../plan/plan.ts';
import { bucketMs, emptySeries, SeriesWindows } from '../core/backtest.ts';
import { chartSeries, type ChartSeries } from '../core/chart-series.ts';
import { emptyHistograms } from '../core/latency-histogram.ts';
import { weightsSummary } from '../core/weights.ts';
import { applyHistoryRows } from '../db/history-queries.ts';
import { applyLatencyBinRows } from '../db/chart-queries.ts';
import { ChartRowCache } from '../db/chart-cache.ts';
import { loadBuckets, storeKey } from '../db/chart-store.ts';
import { isActiveStage } from '../core/state-machine.ts';
import { panelsSpec, type ChartMark } from '../render/charts/panels.ts';
import { minuteUtc } from '../render/charts/axes.ts';
import type { ChartSpec } from '../render/charts/palette.ts';
import type { EngineDeps, EngineRef } from './deps.ts';
import { RolloutReads } from './reads.ts';

export interface StageChart {
  png: Buffer;
  title: string;
  /** One line for the message the picture goes with. */
  summary: string;
  spec: ChartSpec;
  data: ChartSeries;
}

/** Without --since: the current stage so far (at least 30 min, at most 24 h), or the last 3 h. */
const DEFAULT_SINCE_MS = 3 * 3_600_000;

/**
 * The four red lines over a span as one PNG, from one bucketed read of the span's rows (the
 * backtest's sums plus per-bucket latency histograms), never one query per point. Read-only and
 * on the metrics pool, off the guard's path.
 */
export async function stageChart(engine: EngineRef, opts: { sinceMs?: number | null } = {}): Promise<StageChart> {
  const { plan } = engine.deps;
  const step = bucketMs(plan);
  const end = Math.floor(engine.deps.now().getTime() / step) * step;
  const run = await new RolloutReads(engine.deps).latestRun();
  const active = run !== null && isActiveStage(plan, run.state);
  const stageSoFar = active ? Math.min(24 * 3_600_000, Math.max(30 * 60_000, end - run.stageStartedAt.getTime())) : DEFAULT_SINCE_MS;
  const data = await readChartSeries(engine, {
    endMs: end,
    sinceMs: opts.sinceMs ?? stageSoFar,
    baselineCost: run?.baselineCost ?? plan.baselineCostPerImage,
  });
  const marks: ChartMark[] = [];
  if (run) {
    if (run.startedAt.getTime() !== run.stageStartedAt.getTime()) marks.push({ atMs: run.startedAt.getTime(), label: 'rollout start' });
    marks.push({ atMs: run.stageStartedAt.getTime(), label: `${run.state.toUpperCase()} start` });
  }
  const title = active
    ? `Stage ${run.state.toUpperCase()}: ${weightsSummary(plan, run.writtenWeights)}`
    : `Red lines${run ? ` (${run.state.replace('_', ' ')})` : ''}`;
  const spec = panelsSpec(plan, data, {
    title,
    subtitle: `${minuteUtc(data.fromMs)} – ${minuteUtc(data.toMs)} UTC · evaluated every ${plan.evaluateEveryMs / 1000}s as the guard does`,
    marks,
  });
  const breaching = RED_LINES.filter((n) => data.lines[n].held);
  const summary = breaching.length ? `${title}; in breach now: ${breaching.join(', ')}` : `${title}; no red line in breach now`;
  return { png: engine.deps.charts.png(spec), title, summary, spec, data };
}

/**
 * Every red line's evaluations over the `sinceMs` before `endMs` (both rounded to buckets), from
 * one bucketed range read of gen_route rows on the metrics pool giving both the backtest's sums and
 * the latency histograms (db/chart-queries.ts), beside the gen_ok and voucher counts.
 * resetOnFire: clocks restart after each rollback, as the backtest replays them.
 * Settled buckets come from this process's cache, then the leader's persisted buckets; the rest
 * (at least the unsettled minutes) is read raw.
 */
const caches = new WeakMap<EngineDeps, { plan: Plan; rows: ChartRowCache }>();
const chartRows = (deps: EngineDeps): ChartRowCache => {
  let c = caches.get(deps);
  if (c?.plan !== deps.plan) {
    const { plan, db } = deps;
    const key = storeKey(plan, bucketMs(plan));
    // The leader's persisted buckets (engine/chart-warm.ts); a rehearsal has no rollout schema and reads raw.
    const store = deps.rehearsal
      ? null
      : (from: number, to: number, fresh: number, now: number) => loadBuckets(db.pool, key, from, to, fresh, now);
    caches.set(deps, (c = { plan, rows: new ChartRowCache(plan, store) }));
  }
  return c.rows;
};

export async function readChartSeries(
  engine: EngineRef,
  opts: { endMs: number; sinceMs: number; baselineCost: number | null; resetOnFire?: boolean },
): Promise<ChartSeries> {
  const { plan, db } = engine.deps;
  const step = bucketMs(plan);
  const end = Math.floor(opts.endMs / step) * step;
  const sinceMs = Math.max(step, Math.ceil(opts.sinceMs / step) * step);
  const longest = Math.max(plan.trafficWindowMs, ...RED_LINES.map((n) => plan.redLines[n].windowMs));
  const startMs = end - sinceMs - longest;
  const length = (end - startMs) / step;
  const series = emptySeries(startMs, step, length);
  const histograms = { from: emptyHistograms(length), to: emptyHistograms(length) };
  // Latencies matter only for the p95 windows ending inside the span.
  const latencyFrom = end - sinceMs - plan.redLines.p95LatencyMs.windowMs;
  // Settled buckets come from this process's cache: a report's chart reads what is new since the last.
  const rows = await chartRows(engine.deps).read(db.metricsPool, startMs, end, step, latencyFrom, engine.deps.now().getTime());
  applyHistoryRows(plan, series, rows.history);
  applyLatencyBinRows(startMs, step, rows.bins, histograms);
  const first = longest / step - 1 + plan.evaluateEveryMs / step;
  return chartSeries(new SeriesWindows(plan, series), histograms, first, opts.baselineCost, opts.resetOnFire ?? false);
}

/** `chart [--since 3h] [--out file.png]`: the same picture as Slack's, written to a file. */
export async function writeStageChart(
  engine: EngineRef,
  opts: { sinceMs: number | null; out: string | null },
): Promise<{ path: string; title: string; summary: string; bytes: number }> {
  const chart = await stageChart(engine, opts);
  const stamp = engine.deps.now().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
  const path = resolve(opts.out ?? `rollout-chart-${stamp}Z.png`);
  await writeFile(path, chart.png);
  return { path, title: chart.title, summary: chart.summary, bytes: chart.png.length };
}
