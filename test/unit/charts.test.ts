import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { renderPng } from '../../src/adapters/chart-png.ts';
import { panelGrid, panelsSpec } from '../../src/render/charts/panels.ts';
import { ALERT_GRID, alertWindowSpec } from '../../src/render/charts/alert-window.ts';
import { COLORS } from '../../src/render/charts/palette.ts';
import { display, yMaxOf } from '../../src/render/charts/axes.ts';
import { sliceLine, type ChartSeries, type LineSeries } from '../../src/core/chart-series.ts';
import { RED_LINES } from '../../src/plan/plan.ts';
import { syntheticChart, START } from '../support/chart-fixture.ts';

/* The picture as a person sees it: decoded pixels, looked up where the data says things are. */

type Rgb = [number, number, number];
const hex = (h: string): Rgb => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)) as Rgb;
// rgba(215, 25, 28, 0.16) over white.
const SHADE: Rgb = [215, 25, 28].map((c) => Math.round(255 - 0.16 * (255 - c))) as Rgb;

class Picture {
  constructor(readonly png: PNG) {}
  static of(buf: Buffer) {
    return new Picture(PNG.sync.read(buf));
  }
  at(x: number, y: number): Rgb {
    const i = (Math.round(y) * this.png.width + Math.round(x)) * 4;
    return [this.png.data[i], this.png.data[i + 1], this.png.data[i + 2]];
  }
  /** Pixels of `color` (±tol per channel) in the rectangle [x0, x1) × [y0, y1). */
  count(color: Rgb, x0: number, x1: number, y0: number, y1: number, tol = 12): number {
    let n = 0;
    for (let y = Math.max(0, Math.floor(y0)); y < Math.min(this.png.height, Math.ceil(y1)); y++) {
      for (let x = Math.max(0, Math.floor(x0)); x < Math.min(this.png.width, Math.ceil(x1)); x++) {
        const p = this.at(x, y);
        if (Math.abs(p[0] - color[0]) <= tol && Math.abs(p[1] - color[1]) <= tol && Math.abs(p[2] - color[2]) <= tol) n++;
      }
    }
    return n;
  }
}

/** Maps a panel's data to its pixels, as the spec lays it out. */
function mapper(g: { left: number; top: number; width: number; height: number }, span: { fromMs: number; toMs: number }, line: LineSeries) {
  const max = yMaxOf(line);
  return {
    x: (ms: number) => g.left + ((ms - span.fromMs) / (span.toMs - span.fromMs)) * g.width,
    y: (value: number) => g.top + g.height * (1 - display(line.name, value)! / max),
  };
}

const MIN = 60_000;
// Buckets of 30 s from START − 1 h: bucket i ends at START − 1 h + (i + 1) × 30 s.
const bucketAt = (ms: number) => (ms - START + 3_600_000) / 30_000;
const slowFrom = bucketAt(START + 100 * MIN);
const slowTo = bucketAt(START + 120 * MIN);
const slowRunware = syntheticChart({ candidate: (i) => (i >= slowFrom && i < slowTo ? { p95Ms: 11_000 } : {}) });
const healthy = syntheticChart();

const stage = (data: ChartSeries, plan = healthy.plan) =>
  panelsSpec(plan, data, { title: 'Stage D2 — 50 % Runware', subtitle: 'test', marks: [{ atMs: START + 10 * MIN, label: 'D2 start' }] });

describe('stage report chart', () => {
  const breachPng = Picture.of(renderPng(stage(slowRunware.data)));
  const healthyPng = Picture.of(renderPng(stage(healthy.data)));

  it('is a 1200×1000 PNG', () => {
    expect([breachPng.png.width, breachPng.png.height]).toEqual([1200, 1000]);
  });

  it('draws Runware above the p95 red line only while the data breaches, with the breach shaded', () => {
    const line = slowRunware.data.lines.p95LatencyMs;
    expect(line.breaches.length).toBe(1);
    const b = line.breaches[0];
    const g = panelGrid(0);
    const m = mapper(g, slowRunware.data, line);
    const above = [g.top, m.y(line.threshold) - 4] as const;
    const blue = hex(COLORS.candidate);
    expect(breachPng.count(blue, m.x(b.fromMs) + 4, m.x(b.toMs) - 4, ...above)).toBeGreaterThan(50);
    expect(breachPng.count(blue, g.left, m.x(b.fromMs) - 12, ...above)).toBe(0);
    expect(breachPng.count(blue, m.x(b.toMs) + 12, g.left + g.width, ...above)).toBe(0);
    expect(breachPng.count(SHADE, m.x(b.fromMs) + 2, m.x(b.toMs) - 2, g.top, g.top + g.height, 4)).toBeGreaterThan(1000);
    expect(breachPng.count(SHADE, g.left, m.x(b.fromMs) - 3, g.top, g.top + g.height, 4)).toBe(0);
    // The moment the breach had held for `for`: a solid red vertical line.
    const fx = m.x(b.firedAtMs!);
    expect(breachPng.count(hex(COLORS.threshold), fx - 2, fx + 2, g.top + 10, g.top + g.height / 3, 40)).toBeGreaterThan(50);
  });

  it('shows the threshold as a red line at its value and FAL in its colour, in every provider panel', () => {
    for (const [k, name] of RED_LINES.entries()) {
      const line = healthy.data.lines[name];
      const g = panelGrid(k);
      const y = mapper(g, healthy.data, line).y(line.threshold);
      expect(healthyPng.count(hex(COLORS.threshold), g.left + 20, g.left + g.width - 20, y - 2, y + 2, 20), name).toBeGreaterThan(
        g.width * 0.8,
      );
      const fal = healthyPng.count(hex(COLORS.incumbent), g.left, g.left + g.width, g.top, g.top + g.height);
      const all = healthyPng.count(hex(COLORS.combined), g.left, g.left + g.width, g.top, g.top + g.height);
      if (name === 'regenerateRatePercent') expect([fal, all > 200]).toEqual([0, true]);
      else expect(fal, name).toBeGreaterThan(200);
    }
  });

  it('has no breach shading and nothing above a red line when nothing breaches', () => {
    for (const [k, name] of RED_LINES.entries()) {
      const line = healthy.data.lines[name];
      const g = panelGrid(k);
      expect(line.breaches).toEqual([]);
      expect(healthyPng.count(SHADE, g.left, g.left + g.width, g.top, g.top + g.height, 4), name).toBe(0);
      const y = mapper(g, healthy.data, line).y(line.threshold);
      expect(healthyPng.count(hex(COLORS.candidate), g.left, g.left + g.width, g.top, y - 4), name).toBe(0);
    }
  });

  it('marks the stage start across the panels', () => {
    const g = panelGrid(2);
    const x = mapper(g, healthy.data, healthy.data.lines.costPerImageRatio).x(START + 10 * MIN);
    expect(healthyPng.count(hex(COLORS.marker), x - 2, x + 2, g.top, g.top + g.height, 30)).toBeGreaterThan(g.height / 4);
  });

  it('writes its text with the font shipped through npm (no system fonts are loaded)', () => {
    // The title's dark glyphs in the header: without a font resvg draws no text at all.
    expect(healthyPng.count(hex(COLORS.text), 20, 700, 10, 55, 40)).toBeGreaterThan(1500);
  });
});

describe('alert window chart', () => {
  it('shows the red line that fired, the moment it crossed and the moment it fired', () => {
    const line = slowRunware.data.lines.p95LatencyMs;
    const b = line.breaches[0];
    const span = { fromMs: b.fromMs - 20 * MIN, toMs: b.firedAtMs! + 10 * MIN };
    const spec = alertWindowSpec(slowRunware.plan, {
      line: sliceLine(line, span.fromMs, span.toMs),
      ...span,
      crossedAtMs: b.fromMs,
      firedAtMs: b.firedAtMs,
      what: 'Automatic rollback',
    });
    const pic = Picture.of(renderPng(spec));
    expect([pic.png.width, pic.png.height]).toEqual([1200, 640]);
    const m = mapper(ALERT_GRID, span, line);
    const g = ALERT_GRID;
    for (const at of [b.fromMs, b.firedAtMs!]) {
      const x = m.x(at);
      expect(pic.count(hex(COLORS.marker), x - 2, x + 2, g.top, g.top + g.height, 30)).toBeGreaterThan(g.height / 4);
    }
    expect(pic.count(hex(COLORS.candidate), m.x(b.fromMs) + 4, g.left + g.width, g.top, m.y(line.threshold) - 4)).toBeGreaterThan(100);
    expect(pic.count(hex(COLORS.candidate), g.left, m.x(b.fromMs) - 12, g.top, m.y(line.threshold) - 4)).toBe(0);
  });
});
