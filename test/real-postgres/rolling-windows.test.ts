import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultPlan } from '../../src/plan/plan.ts';
import { readRouteWindow, readSnapshot, readVoucherWindow } from '../../src/db/metrics-queries.ts';
import { RollingWindows, SETTLE_MS } from '../../src/db/rolling-windows.ts';
import { insertEvents, insertRoutes, type RouteRow } from '../support/traffic.ts';
import { scratchDatabase, type Scratch } from './harness.ts';

/*
 * The per-minute cache's incremental reads against real Postgres, where the app's transactions
 * commit concurrently and out of id order: the cache reads the rows arrived since its last read
 * (by id), and the settle read makes up for a transaction that took its id before a read and
 * committed after it. Every read is compared with the one-shot queries over the same rows.
 */

let scratch: Scratch;
beforeAll(async () => {
  scratch = await scratchDatabase();
});
afterAll(() => scratch.close());
beforeEach(async () => {
  await scratch.pool.query('TRUNCATE analytics_logs');
});

const plan = defaultPlan();
const MIN = 60_000;
const HOUR = 3_600_000;

function traffic(from: number, to: number, n: number, seed: number): RouteRow[] {
  let s = seed;
  const random = () => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: n }, () => ({
    provider: random() < 0.5 ? 'runware' : 'fal',
    latencyMs: Math.round(500 + random() * 9000),
    error: random() < 0.05 ? 'timeout' : null,
    cost: Number((0.004 + random() * 0.002).toFixed(6)),
    at: new Date(from + Math.floor(random() * (to - from))),
  }));
}

async function same(rolling: RollingWindows, end: number) {
  const at = new Date(end);
  expect(await rolling.readRoute(scratch.pool, at, HOUR)).toEqual(await readRouteWindow(scratch.pool, plan, at, HOUR, false));
  expect(await rolling.readVoucher(scratch.pool, at, HOUR)).toEqual(await readVoucherWindow(scratch.pool, at, HOUR));
}

describe('the per-minute cache on real Postgres', () => {
  it('rows committing concurrently and late, between reads, give the one-shot result at every read', async () => {
    let now = Date.parse('2026-11-28T10:00:03.500Z');
    await insertRoutes(scratch.pool, traffic(now - 70 * MIN, now, 3000, 1));
    const rolling = new RollingWindows(plan);
    await same(rolling, now);
    for (let i = 0; i < 40; i++) {
      const prev = now;
      now += 5_000;
      // Four writers at once, some rows a little late, one far late.
      await Promise.all([
        insertRoutes(scratch.pool, traffic(prev, now + 1, 20, 10 + i)),
        insertRoutes(scratch.pool, traffic(now - SETTLE_MS, now - 5_000, 5, 100 + i)),
        insertRoutes(scratch.pool, traffic(now - 40 * MIN, now - 30 * MIN, 1, 200 + i)),
        insertEvents(scratch.pool, 'gen_ok', 3, new Date(now - 1_000)),
        insertEvents(scratch.pool, 'voucher_issued', 1, new Date(now - 90_000), { reason: 'regenerate' }),
      ]);
      await same(rolling, now);
    }
  });

  it('a row whose transaction took its id before a read and committed after it is counted once its minute settles, once', async () => {
    let now = Date.parse('2026-11-28T10:00:05Z');
    await insertRoutes(scratch.pool, traffic(now - 70 * MIN, now, 1000, 2));
    const rolling = new RollingWindows(plan);
    await same(rolling, now);
    const open = await scratch.pool.connect();
    try {
      await open.query('BEGIN');
      await insertRoutes(open, [{ provider: 'runware', latencyMs: 777, cost: 0.005, error: null, at: new Date(now + 1_000) }]);
      // Later ids commit first, and a read passes them.
      await insertRoutes(scratch.pool, traffic(now, now + 5_000, 20, 3));
      now += 5_000;
      await same(rolling, now);
      await open.query('COMMIT');
    } finally {
      open.release();
    }
    now += 5_000;
    const missing = await rolling.readRoute(scratch.pool, new Date(now), HOUR);
    const full = await readRouteWindow(scratch.pool, plan, new Date(now), HOUR, false);
    expect(missing.providers.runware.requests).toBe(full.providers.runware.requests - 1);
    // Its minute settles SETTLE after it ends: from then on, every read counts it exactly once.
    now += MIN + SETTLE_MS;
    for (let i = 0; i < 3; i++) await same(rolling, (now += 5_000));
    // With every window the guard reads (p95 from the minute's latencies, read again after the settle read found the row).
    const end = new Date((now += 5_000));
    expect(await readSnapshot(scratch.pool, plan, end, [], rolling)).toEqual(await readSnapshot(scratch.pool, plan, end));
  });

  it('without an index on id the head is read whole at every read, with the same result', async () => {
    await scratch.pool.query('ALTER TABLE analytics_logs DROP CONSTRAINT analytics_logs_pkey');
    try {
      let now = Date.parse('2026-11-28T10:00:05Z');
      await insertRoutes(scratch.pool, traffic(now - 70 * MIN, now, 1000, 4));
      const rolling = new RollingWindows(plan);
      for (let i = 0; i < 5; i++) {
        await insertRoutes(scratch.pool, traffic(now - MIN, now + 5_000, 20, 5 + i));
        await same(rolling, (now += 5_000));
        expect(rolling.lastRead.incremental).toBe(false);
      }
    } finally {
      await scratch.pool.query('ALTER TABLE analytics_logs ADD PRIMARY KEY (id)');
    }
  });
});
