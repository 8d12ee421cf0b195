import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { consoleSink } from '../../src/adapters/console.ts';
import { soleLeader } from '../../src/engine/leader.ts';
import { Scheduler } from '../../src/engine/scheduler.ts';
import { silentLogger } from '../../src/log.ts';
import { bucketMs } from '../../src/core/backtest.ts';
import { ChartRowCache, settledEnd } from '../../src/db/chart-cache.ts';
import { loadBuckets, storeKey } from '../../src/db/chart-store.ts';
import { readChartSeries } from '../../src/engine/chart.ts';
import { warmChartBuckets } from '../../src/engine/chart-warm.ts';
import type { Plan } from '../../src/plan/plan.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { engine, planWith } from '../support/engine.ts';
import { HOUR, MINUTE, TestClock } from '../support/clock.ts';
import { insertEvents, insertRoutes, type RouteRow } from '../support/traffic.ts';

// The leader persists each settled chart bucket (engine/chart-warm.ts) so that any chart, in any
// process, reads only the unsettled minutes raw. What it draws must be exactly what the raw read
// of the whole span draws (a rehearsal reads raw: it has no rollout schema to read from).
let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

const plan = planWith({ approvals: 0, minSamples: 20, baselineCostPerImage: 0.005 });
const step = bucketMs(plan);
const START = Date.parse('2026-11-28T08:00:00Z');
const END = START + 2 * HOUR;
// Now: past the rows, not on a bucket's edge, so the last buckets are not settled yet.
const NOW = END + 5 * MINUTE + 45_000;

function rng(seed: number) {
  let s = seed;
  return () => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

/** Both providers and another; junk, string, negative, too large latencies and costs; rows on bucket edges. */
function routes(random: () => number, n: number, from: number, to: number): RouteRow[] {
  const latency = (): RouteRow['latencyMs'] => {
    const r = random();
    if (r < 0.04) return 'slow';
    if (r < 0.08) return String(Math.round(900 + random() * 9000));
    if (r < 0.1) return -3;
    if (r < 0.12) return 10_000_000;
    if (r < 0.14) return null;
    return r < 0.7 ? Math.round(800 + random() * 2500) : 500 + random() * 9_000;
  };
  const cost = (): RouteRow['cost'] => {
    const r = random();
    if (r < 0.05) return 'cheap';
    if (r < 0.1) return '0.0045';
    if (r < 0.15) return undefined;
    return Number((0.004 + random() * 0.002).toFixed(9));
  };
  return Array.from({ length: n }, () => {
    const r = random();
    let at = from + Math.floor(random() * (to - from));
    if (random() < 0.08) at = Math.ceil(at / step) * step;
    return {
      provider: r < 0.45 ? 'runware' : r < 0.93 ? 'fal' : 'replicate',
      latencyMs: latency(),
      error: random() < 0.05 ? 'timeout' : null,
      cost: cost(),
      at: new Date(at),
    };
  });
}

async function history(): Promise<void> {
  await insertRoutes(db.app, routes(rng(11), 4_000, START - HOUR, NOW));
  for (let m = -60; m < 125; m += 7) {
    await insertEvents(db.app, 'gen_ok', 3, new Date(START + m * MINUTE));
    await insertEvents(db.app, 'voucher_issued', 1, new Date(START + m * MINUTE + 30_000), { reason: 'regenerate' });
  }
}

/** The leader's passes until nothing is left to read. */
async function warm(p: Plan, clock: TestClock): Promise<number> {
  const { service } = engine(db, { plan: p, clock });
  let n = 0;
  for (;;) {
    const r = await warmChartBuckets(service);
    n += r.buckets;
    if (!r.pending) return n;
  }
}

const chart = (p: Plan, clock: TestClock, rehearsal: boolean) =>
  readChartSeries(engine(db, { plan: p, clock, rehearsal }).service, {
    endMs: clock.now().getTime(),
    sinceMs: 2 * HOUR,
    baselineCost: 0.005,
  });

describe("the leader's persisted chart buckets", () => {
  it('give a new process the same chart as the raw read, reading only the unsettled minutes raw', async () => {
    await history();
    const clock = new TestClock(new Date(NOW).toISOString());
    // Every settled bucket of the last 25 h (the longest chart), once.
    expect(await warm(plan, clock)).toBe((settledEnd(NOW, step) - Math.ceil((NOW - 25 * HOUR) / step) * step) / step);

    const persisted = await chart(plan, clock, false);
    const raw = await chart(plan, clock, true);
    expect(persisted).toEqual(raw);
    expect(raw.lines.p95LatencyMs.points.length).toBeGreaterThan(100);

    // What the read took from where: everything settled from the table, the rest raw.
    const key = storeKey(plan, step);
    const cache = new ChartRowCache(plan, (a, b, fresh, now) => loadBuckets(db.pool, key, a, b, fresh, now));
    const end = Math.floor(NOW / step) * step;
    const rows = await cache.read(db.metricsPool, START - HOUR, end, step, START, NOW);
    expect(rows.rawSpans).toEqual([[settledEnd(NOW, step), end]]);
  });

  it('are never read for another plan: a plan with other providers, limits or threshold reads raw until warmed', async () => {
    await history();
    const clock = new TestClock(new Date(NOW).toISOString());
    await warm(plan, clock);
    const other = planWith({
      approvals: 0,
      minSamples: 20,
      baselineCostPerImage: 0.005,
      to: 'replicate',
      stages: [
        { name: 'd1', weights: { fal: 0.9, replicate: 0.1 }, soak: '1h' },
        { name: 'd2', weights: { fal: 0, replicate: 1 } },
      ],
      rollbackWeights: { fal: 1, replicate: 0 },
      maxLatencyMs: 5_000,
      redLines: {
        p95LatencyMs: { threshold: 3000, window: '5m', for: '5m' },
        failureRatePercent: { threshold: 2, window: '5m', for: '5m' },
        costPerImageRatio: { threshold: 1.2, window: '1h', for: '10m' },
        regenerateRatePercent: { threshold: 5, window: '1h', for: '10m' },
      },
    });
    expect(storeKey(other, step)).not.toBe(storeKey(plan, step));
    expect(await chart(other, clock, false)).toEqual(await chart(other, clock, true));
    await warm(other, clock);
    const stored = await db.pool.query('SELECT count(DISTINCT key)::int AS keys FROM rollout.chart_buckets');
    expect(stored.rows[0].keys).toBe(2);
    expect(await chart(other, clock, false)).toEqual(await chart(other, clock, true));
    // And the first plan's buckets still draw its own chart.
    expect(await chart(plan, clock, false)).toEqual(await chart(plan, clock, true));
  });

  it('a row logged late shows once its bucket is read again, within 4 h; buckets past 25 h are dropped', async () => {
    await history();
    const clock = new TestClock(new Date(NOW).toISOString());
    await warm(plan, clock);
    // Ten slow requests logged late, into a bucket settled (and persisted) an hour ago.
    await insertRoutes(
      db.app,
      Array.from({ length: 10 }, (_, i) => ({ provider: 'runware', latencyMs: 30_000, at: new Date(END - HOUR + i * 1000) })),
    );
    const before = await chart(plan, clock, false);
    expect(before).not.toEqual(await chart(plan, clock, true));

    // Between 3 and 4 h after, the leader reads those buckets again: the same chart as the raw read.
    clock.advance(3.5 * HOUR + MINUTE);
    await warm(plan, clock);
    const since = { endMs: clock.now().getTime(), sinceMs: 6 * HOUR, baselineCost: 0.005 };
    const later = await readChartSeries(engine(db, { plan, clock }).service, since);
    expect(later).toEqual(await readChartSeries(engine(db, { plan, clock, rehearsal: true }).service, since));

    clock.advance(25 * HOUR);
    await warm(plan, clock);
    const oldest = await db.pool.query('SELECT min(bucket) AS b FROM rollout.chart_buckets');
    expect((oldest.rows[0].b as Date).getTime()).toBeGreaterThanOrEqual(clock.now().getTime() - 25 * HOUR);
  });

  it("a started leader's scheduler warms them after its evaluations, newest first", async () => {
    await history();
    const clock = new TestClock(new Date(NOW).toISOString());
    const { service } = engine(db, { plan, clock });
    const scheduler = new Scheduler({
      service,
      sink: consoleSink(() => service.plan, new PassThrough()),
      leader: soleLeader(),
      log: silentLogger,
    });
    const stored = async () =>
      (
        await db.pool.query('SELECT count(*)::int AS n, max(bucket) AS newest FROM rollout.chart_buckets WHERE key = $1', [
          storeKey(plan, step),
        ])
      ).rows[0];
    try {
      // start() evaluates at once, on its own; its pass of the chart buckets runs beside it.
      scheduler.start();
      for (let i = 0; i < 200 && (await stored()).n === 0; i++) {
        await scheduler.tick();
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await scheduler.stop();
    }
    const { n, newest } = await stored();
    expect(n).toBeGreaterThanOrEqual((4 * HOUR) / step);
    expect((newest as Date).getTime()).toBe(settledEnd(NOW, step) - step);
  });
});
