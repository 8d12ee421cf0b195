import { RED_LINES } from '../plan/plan.ts';
import type { ChartRequest } from '../core/chart-requests.ts';
import { sliceLine, type ChartSeries } from '../core/chart-series.ts';
import { alertWindowSpec } from '../render/charts/alert-window.ts';
import { minuteUtc } from '../render/charts/axes.ts';
import { backtestReplaySpec } from '../render/charts/backtest-replay.ts';
import type { ChartSpec } from '../render/charts/palette.ts';
import { panelsSpec } from '../render/charts/panels.ts';
import * as store from '../db/store.ts';
import { readChartSeries } from './chart.ts';
import type { EngineRef } from './deps.ts';

export interface DrawnChart {
  png: Buffer;
  title: string;
  filename: string;
  /** For screen readers (Slack's alt text). */
  altText: string;
}

/**
 * Draws a chart job's picture: one bucketed read of its span on the metrics pool (never the
 * guard's queries), the spec, then the PNG with the raster off the event loop.
 */
export async function drawChart(engine: EngineRef, req: ChartRequest): Promise<DrawnChart> {
  const { plan } = engine.deps;
  const baselineCost = req.kind === 'backtest' ? req.baselineCost : await store.runBaseline(engine.deps.db.pool, req.runId);
  const data = await readChartSeries(engine, {
    endMs: req.toMs,
    sinceMs: req.toMs - req.fromMs,
    baselineCost: baselineCost ?? plan.baselineCostPerImage,
    resetOnFire: req.kind === 'backtest',
  });
  const spec = specFor(engine, req, data);
  const stamp = new Date(req.toMs).toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
  return {
    png: await engine.deps.charts.pngAsync(spec),
    title: spec.title,
    filename: `rollout-${req.kind}-${stamp}Z.png`,
    altText: altText(spec, data),
  };
}

function specFor(engine: EngineRef, req: ChartRequest, data: ChartSeries): ChartSpec {
  const { plan } = engine.deps;
  const span = `${minuteUtc(data.fromMs)} – ${minuteUtc(data.toMs)} UTC`;
  switch (req.kind) {
    case 'stage':
      return panelsSpec(plan, data, {
        title: req.title,
        subtitle: `${span} · evaluated every ${plan.evaluateEveryMs / 1000}s as the guard does`,
        marks: req.marks,
      });
    case 'backtest':
      return backtestReplaySpec(plan, data, {
        from: new Date(req.fromMs).toISOString(),
        to: new Date(req.toMs).toISOString(),
        rollbacks: new Array(req.rollbacks),
      });
    case 'alert': {
      const at = req.firedAtMs ?? req.crossedAtMs ?? req.toMs;
      // A manual rollback names no red line: show the one in breach when it happened (the longest held), if any.
      const line = req.line ?? inBreachAt(data, at, plan.evaluateEveryMs);
      if (!line)
        return panelsSpec(plan, data, {
          title: `${req.what}: no red line in breach`,
          subtitle: span,
          marks: [{ atMs: at, label: req.what.toLowerCase() }],
        });
      const crossed =
        req.crossedAtMs ?? data.lines[line].breaches.find((b) => b.fromMs <= at && b.toMs + plan.evaluateEveryMs >= at)?.fromMs ?? null;
      return alertWindowSpec(plan, {
        line: sliceLine(data.lines[line], data.fromMs, data.toMs),
        fromMs: data.fromMs,
        toMs: data.toMs,
        crossedAtMs: crossed,
        firedAtMs: req.firedAtMs,
        what: req.what,
      });
    }
  }
}

function inBreachAt(data: ChartSeries, atMs: number, slackMs: number) {
  const held = RED_LINES.map((n) => ({ n, b: data.lines[n].breaches.find((b) => b.fromMs <= atMs && b.toMs + slackMs >= atMs) }))
    .filter((x) => x.b !== undefined)
    .sort((x, y) => x.b!.fromMs - y.b!.fromMs);
  return held[0]?.n ?? null;
}

function altText(spec: ChartSpec, data: ChartSeries): string {
  const breaching = RED_LINES.filter((n) => data.lines[n].held);
  return `${spec.title}. ${minuteUtc(data.fromMs)} to ${minuteUtc(data.toMs)} UTC. ${breaching.length ? `In breach at the end: ${breaching.join(', ')}.` : 'No red line in breach at the end.'}`;
}
