import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { backtest } from '../../src/engine/backtest.ts';
import { guardCycle } from '../../src/engine/guard.ts';
import { renderOutcome } from '../../src/render/text.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { alice, engine, planWith } from '../support/engine.ts';
import { MINUTE, SECOND, TestClock } from '../support/clock.ts';
import { insertRoutes, type RouteRow } from '../support/traffic.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

const END = Date.parse('2026-11-28T10:00:00Z');
const plan = planWith({ approvals: 0, minSamples: 20, baselineCostPerImage: 0.005 });

/**
 * 40 minutes of traffic; Runware fails every request between minutes 10 and 25 and is slow
 * between 28 and 36. Rows never sit on a 30 s boundary, where window edges are inclusive.
 */
async function history() {
  const rows: RouteRow[] = [];
  const genOk: Date[] = [];
  for (let m = 0; m < 40; m++) {
    const minute = END - (40 - m) * MINUTE;
    for (let i = 0; i < 60; i++) {
      const at = new Date(minute + ((i * 997 + 123) % 60_000));
      const failing = m >= 10 && m < 25;
      const slow = m >= 28 && m < 36 && i % 4 === 0;
      rows.push({
        provider: 'runware',
        latencyMs: slow ? 12_000 : 1_500 + (i % 7) * 100,
        error: failing ? 'HTTP 500' : null,
        cost: 0.005,
        at,
      });
      if (i % 3 === 0) rows.push({ provider: 'fal', latencyMs: 1_200, error: null, cost: 0.005, at });
      if (!failing) genOk.push(at);
    }
  }
  await insertRoutes(db.app, rows);
  await db.app.query(
    `INSERT INTO analytics_logs (event_type, event_data, created_at) SELECT 'gen_ok', '{}', t FROM unnest($1::timestamptz[]) t`,
    [genOk],
  );
}

describe('backtest', () => {
  it('finds the same rollbacks, at the same times, as the guard stepping through the same history', async () => {
    await history();
    const clock = new TestClock(new Date(END).toISOString());
    const { service } = engine(db, { plan, clock });
    const result = await backtest(service, 40 * MINUTE);
    const backtested = result.rollbacks.map((r) => [r.at, r.line.name]);
    expect(backtested.length).toBeGreaterThanOrEqual(3);

    // The real guard over the same rows; after each rollback a new D1 starts, as the backtest assumes.
    clock.set(new Date(END - 40 * MINUTE).toISOString());
    await service.handle('d1', alice);
    const guarded: [string, string][] = [];
    while (clock.now().getTime() < END) {
      clock.advance(30 * SECOND);
      const r = await guardCycle(service);
      if (r.kind === 'rolled_back') {
        guarded.push([clock.now().toISOString(), r.line.name]);
        await service.handle('d1', alice);
      }
    }
    expect(backtested).toEqual(guarded);
    expect(result.lines.failureRatePercent.breachEpisodes).toBe(1);
    expect(result.lines.p95LatencyMs.breachEpisodes).toBe(1);
    expect(result.lines.costPerImageRatio.states.breach).toBe(0);
    expect(result.evaluations).toBe(80);
  });

  it('reports no-data windows and what it read, through the command grammar', async () => {
    await history();
    const { service } = engine(db, { plan, clock: new TestClock(new Date(END + 60 * MINUTE).toISOString()) });
    const progress: number[] = [];
    const reply = await service.handle('backtest 2h', alice, { progress: (done) => progress.push(done) });
    expect(reply.visibility).toBe('thread');
    expect(reply.outcome.kind).toBe('backtest');
    const text = renderOutcome(service.plan, reply.outcome);
    expect(text).toContain('240 evaluations every 30s of Runware');
    expect(text).toMatch(/p95 latency \(8000 over 5m, for 5m\): ok [\d.]+% · breach [\d.]+% · no data [\d.]+%/);
    expect(text).toContain('Read 4,700 rows'); // 2 400 Runware + 800 FAL gen_route + 1 500 gen_ok, the hour before included
    expect(progress.length).toBeGreaterThan(0);
    if (reply.outcome.kind === 'backtest') {
      const s = reply.outcome.result.lines.failureRatePercent.states;
      // 40 of the 120 minutes have traffic; the last hour has none: no data, never ok.
      expect(s.no_data).toBeGreaterThanOrEqual(120);
    }
  });
});
