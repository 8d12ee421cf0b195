import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readChartSeries } from '../../src/engine/chart.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { engine, planWith } from '../support/engine.ts';
import { HOUR, MINUTE, TestClock } from '../support/clock.ts';
import { feed } from '../support/traffic.ts';

// A report's chart reads only what is new since the last one; what it draws must be what a
// fresh read of the whole span draws.
let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

const plan = planWith({ approvals: 0, minSamples: 20, baselineCostPerImage: 0.005 });
const START = Date.parse('2026-11-28T08:00:00Z');

describe('the chart cache', () => {
  it('a chart drawn 15 minutes after another, from the cache plus the new rows, equals one read whole', async () => {
    await feed(
      db.app,
      new Date(START - HOUR),
      new Date(START + 2 * HOUR),
      { perMinute: 30, latencyMs: 1500, failureShare: 0.02 },
      { perMinute: 60, latencyMs: 1300 },
    );
    const clock = new TestClock(new Date(START + 2 * HOUR).toISOString());
    const { service } = engine(db, { plan, clock });
    const read = (s: typeof service) =>
      readChartSeries(s, { endMs: clock.now().getTime(), sinceMs: clock.now().getTime() - START, baselineCost: 0.005 });
    await read(service);
    // Fifteen minutes later, Runware turned slow: the new rows must show.
    await feed(
      db.app,
      new Date(START + 2 * HOUR),
      clock.advance(15 * MINUTE),
      { perMinute: 30, latencyMs: 9_000, failureShare: 0.2 },
      { perMinute: 60, latencyMs: 1300 },
    );
    const cached = await read(service);
    const fresh = await read(engine(db, { plan, clock }).service);
    expect(cached).toEqual(fresh);
    expect(cached.lines.p95LatencyMs.points.at(-1)!.candidate).toBeGreaterThan(8_000);
  });
});
