import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultPlan } from '../../src/plan/plan.ts';
import { readRouteWindow, readSnapshot, readVoucherWindow } from '../../src/db/metrics-queries.ts';
import { evaluateRedLines } from '../../src/core/red-lines.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { MINUTE } from '../support/clock.ts';
import { insertEvents, insertRoutes, steadyTraffic } from '../support/traffic.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

const plan = defaultPlan();

/** The seed's verbatim queries, with NOW() replaced by the evaluation time. */
const SEED = {
  p95: `SELECT event_data->>'provider' as provider,
      PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY (event_data->>'latency_ms')::numeric) as p95_latency_ms
    FROM analytics_logs
    WHERE event_type = 'gen_route' AND created_at >= $1::timestamptz - INTERVAL '5 minutes' AND created_at <= $1
    GROUP BY event_data->>'provider'`,
  failure: `SELECT event_data->>'provider' as provider,
      COUNT(*) FILTER (WHERE event_data->>'error' IS NOT NULL) * 100.0 / COUNT(*) as failure_rate_percent
    FROM analytics_logs
    WHERE event_type = 'gen_route' AND created_at >= $1::timestamptz - INTERVAL '5 minutes' AND created_at <= $1
    GROUP BY event_data->>'provider'`,
  cost: `SELECT event_data->>'provider' as provider,
      AVG((event_data->>'cost_per_image')::numeric) as avg_cost_per_image
    FROM analytics_logs
    WHERE event_type = 'gen_route' AND created_at >= $1::timestamptz - INTERVAL '1 hour' AND created_at <= $1
      AND event_data->>'cost_per_image' IS NOT NULL
    GROUP BY event_data->>'provider'`,
  voucher: `SELECT COUNT(*) FILTER (WHERE event_type = 'voucher_issued' AND event_data->>'reason' = 'regenerate') * 100.0 /
       COUNT(*) FILTER (WHERE event_type = 'gen_ok') as regenerate_voucher_rate_percent
    FROM analytics_logs
    WHERE created_at >= $1::timestamptz - INTERVAL '1 hour' AND created_at <= $1`,
  split: `SELECT event_data->>'provider' as provider, COUNT(*) as request_count,
      COUNT(*) * 100.0 / SUM(COUNT(*)) OVER () as percentage
    FROM analytics_logs
    WHERE event_type = 'gen_route' AND created_at >= $1::timestamptz - INTERVAL '10 minutes' AND created_at <= $1
    GROUP BY event_data->>'provider' ORDER BY provider`,
};

const byProvider = (rows: Record<string, unknown>[], col: string) => Object.fromEntries(rows.map((r) => [r.provider, Number(r[col])]));

describe('metrics match the seed SQL on the same rows', () => {
  it('p95, failure rate, cost, regenerate rate and split agree with the seed queries', async () => {
    const end = new Date('2026-11-28T10:00:00Z');
    // Varied clean rows over 70 minutes, so the 5 min and 1 h windows differ.
    const rows = [];
    for (let i = 0; i < 700; i++) {
      const provider = i % 3 === 0 ? 'runware' : 'fal';
      rows.push({
        provider,
        latencyMs: 500 + ((i * 7919) % 9000),
        error: i % 23 === 0 ? 'HTTP 500' : null,
        cost: i % 5 === 0 ? undefined : 0.004 + ((i * 13) % 10) / 10_000,
        at: new Date(end.getTime() - (i % 70) * MINUTE - 1000),
      });
    }
    await insertRoutes(db.app, rows);
    await insertEvents(db.app, 'gen_ok', 400, new Date(end.getTime() - 30 * MINUTE));
    await insertEvents(db.app, 'voucher_issued', 9, new Date(end.getTime() - 20 * MINUTE), { reason: 'regenerate' });
    await insertEvents(db.app, 'voucher_issued', 4, new Date(end.getTime() - 20 * MINUTE), { reason: 'promo' });

    const five = await readRouteWindow(db.pool, plan, end, 5 * MINUTE, true);
    const hour = await readRouteWindow(db.pool, plan, end, 60 * MINUTE, false);
    const ten = await readRouteWindow(db.pool, plan, end, 10 * MINUTE, false);
    const vouchers = await readVoucherWindow(db.pool, end, 60 * MINUTE);

    const seedP95 = byProvider((await db.app.query(SEED.p95, [end])).rows, 'p95_latency_ms');
    const seedFail = byProvider((await db.app.query(SEED.failure, [end])).rows, 'failure_rate_percent');
    const seedCost = byProvider((await db.app.query(SEED.cost, [end])).rows, 'avg_cost_per_image');
    const seedVoucher = Number((await db.app.query(SEED.voucher, [end])).rows[0].regenerate_voucher_rate_percent);
    const seedSplit = (await db.app.query(SEED.split, [end])).rows;

    for (const p of ['fal', 'runware']) {
      expect(five.providers[p].p95LatencyMs).toBeCloseTo(seedP95[p], 6);
      expect((five.providers[p].failures * 100) / five.providers[p].requests).toBeCloseTo(seedFail[p], 6);
      expect(hour.providers[p].avgCostPerImage).toBeCloseTo(seedCost[p], 9);
      expect(ten.providers[p].requests).toBe(Number(seedSplit.find((r) => r.provider === p).request_count));
    }
    expect((vouchers.vouchers * 100) / vouchers.genOk).toBeCloseTo(seedVoucher, 9);
    expect(vouchers).toMatchObject({ vouchers: 9, genOk: 400 });
  });

  it('skips and counts non-numeric, negative, absurd and missing values instead of failing', async () => {
    const at = new Date('2026-11-28T09:59:00Z');
    await insertRoutes(db.app, [
      { provider: 'runware', latencyMs: 1000, cost: 0.005, at },
      { provider: 'runware', latencyMs: 'fast', cost: 'cheap', at },
      { provider: 'runware', latencyMs: -5, cost: -0.01, at },
      { provider: 'runware', latencyMs: 1e12, cost: 1e9, at },
      { provider: 'runware', latencyMs: null, cost: null, at },
      { provider: 'runware', latencyMs: '2000', cost: '0.006', at },
      { provider: 'runware', at },
      { provider: 'mystery', latencyMs: 10, at },
    ]);
    await db.app.query(
      `INSERT INTO analytics_logs (event_type, event_data, created_at) VALUES
      ('gen_route', NULL, $1), ('gen_route', '"just a string"', $1), ('gen_route', '[1,2]', $1),
      ('gen_route', '{"provider":"runware","latency_ms":"1e999999"}', $1)`,
      [at],
    );
    const w = await readRouteWindow(db.pool, plan, new Date('2026-11-28T10:00:00Z'), 5 * MINUTE, true);
    expect(w.providers.runware).toMatchObject({ requests: 8, latencySamples: 2, latencySkipped: 6, costSamples: 2, costSkipped: 3 });
    expect(w.providers.runware.avgCostPerImage).toBeCloseTo(0.0055, 9);
    expect(w.providers.mystery.requests).toBe(1);
    expect(w.providers['(none)'].requests).toBe(3);
  });
});

describe('thin and empty windows are no data, never 0% and never an error', () => {
  it('an empty database evaluates every red line to no_data', async () => {
    const snapshot = await readSnapshot(db.pool, plan, new Date('2026-11-28T10:00:00Z'));
    const lines = evaluateRedLines(plan, snapshot, 0.005);
    expect(lines.map((l) => l.state)).toEqual(['no_data', 'no_data', 'no_data', 'no_data']);
    expect(lines.find((l) => l.name === 'regenerateRatePercent')!.value).toBeNull();
  });

  it('49 candidate requests with every one failing is still no data; 50 is a breach', async () => {
    const end = new Date('2026-11-28T10:00:00Z');
    await steadyTraffic(db.app, { provider: 'runware', end, minutes: 1, perMinute: 49, latencyMs: 9000, failureShare: 1, cost: 0.005 });
    let lines = evaluateRedLines(plan, await readSnapshot(db.pool, plan, end), 0.005);
    expect(lines.find((l) => l.name === 'failureRatePercent')).toMatchObject({ state: 'no_data', value: 100, samples: 49 });
    await insertRoutes(db.app, [{ provider: 'runware', latencyMs: 9000, error: 'boom', cost: 0.005, at: new Date(end.getTime() - 1000) }]);
    lines = evaluateRedLines(plan, await readSnapshot(db.pool, plan, end), 0.005);
    expect(lines.find((l) => l.name === 'failureRatePercent')).toMatchObject({ state: 'breach', value: 100, samples: 50 });
    expect(lines.find((l) => l.name === 'p95LatencyMs')).toMatchObject({ state: 'breach', value: 9000 });
  });
});
