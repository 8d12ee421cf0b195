import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { stageChart } from '../../src/engine/chart.ts';
import { readRouteWindow } from '../../src/db/metrics-queries.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { alice, bob, engine, planWith } from '../support/engine.ts';
import { MINUTE, TestClock } from '../support/clock.ts';
import { insertRoutes, type RouteRow } from '../support/traffic.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

const END = Date.parse('2026-11-28T10:00:00Z');
const plan = planWith({ approvals: 0, minSamples: 20, baselineCostPerImage: 0.005 });

/** 60 minutes; Runware is slow (1 in 4 requests at 12 s) between minutes 30 and 40. */
async function history() {
  const rows: RouteRow[] = [];
  for (let m = 0; m < 60; m++) {
    const minute = END - (60 - m) * MINUTE;
    for (let i = 0; i < 60; i++) {
      const at = new Date(minute + ((i * 997 + 123) % 60_000));
      const slow = m >= 30 && m < 40 && i % 4 === 0;
      rows.push({ provider: 'runware', latencyMs: slow ? 12_000 : 1_500 + (i % 7) * 130 + m, error: null, cost: 0.005, at });
      if (i % 3 === 0) rows.push({ provider: 'fal', latencyMs: 1_200 + (i % 11) * 90, error: null, cost: 0.005, at });
    }
  }
  await insertRoutes(db.app, rows);
}

describe('chart', () => {
  it('plots every evaluation with p95 values within 1 % of the guard query, and the breach the guard would see', async () => {
    await history();
    const { service } = engine(db, { plan, clock: new TestClock(new Date(END).toISOString()) });
    const chart = await stageChart(service, { sinceMs: 50 * MINUTE });
    const p95 = chart.data.lines.p95LatencyMs;
    expect(p95.points).toHaveLength(100);
    for (const at of [END - 40 * MINUTE, END - 25 * MINUTE, END - 12 * MINUTE]) {
      const point = p95.points.find((p) => p.atMs === at)!;
      const w = await readRouteWindow(db.metricsPool, plan, new Date(at), plan.redLines.p95LatencyMs.windowMs, true);
      const exact = w.providers.runware.p95LatencyMs!;
      expect(Math.abs(point.candidate! - exact) / exact).toBeLessThanOrEqual(0.0101);
      const fal = w.providers.fal.p95LatencyMs!;
      expect(Math.abs(point.incumbent! - fal) / fal).toBeLessThanOrEqual(0.0101);
    }
    expect(p95.breaches).toHaveLength(1);
    expect(p95.breaches[0].fromMs).toBeGreaterThan(END - 30 * MINUTE);
    expect(p95.breaches[0].toMs).toBeLessThanOrEqual(END - 15 * MINUTE);
    const png = PNG.sync.read(chart.png);
    expect([png.width, png.height]).toEqual([1200, 1000]);
  });

  it('writes the picture to the file named by --out, through the command grammar, for anyone', async () => {
    await history();
    const { service } = engine(db, { plan, clock: new TestClock(new Date(END).toISOString()) });
    await service.handle('d1', alice);
    const out = join(mkdtempSync(join(tmpdir(), 'rollout-chart-')), 'D1.png');
    const reply = await service.handle(`chart --since 45m --out ${out}`, { id: 'U_NOT_ADMIN', via: 'cli' });
    expect(reply.outcome).toMatchObject({ kind: 'chart', path: out, title: expect.stringContaining('Stage D1') });
    expect(PNG.sync.read(readFileSync(out)).width).toBe(1200);
    const bad = await service.handle('chart --since 2d', bob);
    expect(bad.outcome).toMatchObject({ kind: 'usage', problem: expect.stringContaining('from 30m to 24h') });
    const notPng = await service.handle('chart --out report.jpg', bob);
    expect(notPng.outcome).toMatchObject({ kind: 'usage', problem: expect.stringContaining('ending in .png') });
  });

  it("is refused from Slack, where it would write on the bot's host, and the refusal is audited", async () => {
    const { service } = engine(db, { plan, clock: new TestClock(new Date(END).toISOString()) });
    const out = join(mkdtempSync(join(tmpdir(), 'rollout-chart-')), 'x.png');
    const reply = await service.handle(`chart --out ${out}`, bob);
    expect(reply.outcome).toMatchObject({ kind: 'refused', code: 'not_here', message: expect.stringContaining('`npx rollout chart`') });
    expect(existsSync(out)).toBe(false);
    const { rows } = await db.app.query(`SELECT actor, action, outcome FROM rollout.audit`);
    expect(rows).toEqual([{ actor: bob.id, action: 'chart', outcome: 'refused' }]);
  });
});
