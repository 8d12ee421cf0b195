import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultPlan } from '../../src/plan/plan.ts';
import { bucketMs, emptySeries, SeriesWindows } from '../../src/core/backtest.ts';
import { readHistory } from '../../src/db/history-queries.ts';
import { readSnapshot } from '../../src/db/metrics-queries.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { insertEvents, insertRoutes, type RouteRow } from '../support/traffic.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

const plan = defaultPlan();
const MIN = 60_000;

function rng(seed: number) {
  let s = seed;
  return () => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

/** Varied rows: both providers, others, none, junk values, costs of several scales; some exactly on 30 s boundaries. */
function routes(random: () => number, from: number, to: number, n: number, step: number): RouteRow[] {
  const rows: RouteRow[] = [];
  for (let i = 0; i < n; i++) {
    const r = random();
    const provider = r < 0.5 ? 'runware' : r < 0.9 ? 'fal' : r < 0.95 ? 'replicate' : (undefined as unknown as string);
    const j = random();
    let at = from + Math.floor(random() * (to - from));
    if (random() < 0.05) at = Math.ceil(at / step) * step; // on a bucket edge: counted at both window ends
    rows.push({
      provider,
      latencyMs:
        j < 0.02
          ? 'fast'
          : j < 0.04
            ? -5
            : j < 0.06
              ? String(Math.round(900 + random() * 9000))
              : j < 0.07
                ? 10_000_000
                : Math.round(500 + random() * (random() < 0.1 ? 20_000 : 8_000)),
      error: random() < 0.05 ? 'timeout' : null,
      cost:
        j < 0.1
          ? undefined
          : j < 0.12
            ? 'cheap'
            : j < 0.5
              ? Number((0.004 + random() * 0.002).toFixed(5))
              : j < 0.8
                ? Number((0.004 + random() * 0.002).toFixed(9))
                : String((0.0045).toFixed(4)),
      at: new Date(at),
    });
  }
  return rows;
}

describe("the backtest's bucketed history equals the one-shot queries over the same windows", () => {
  it('every count, skipped value, exact average cost, voucher rate and p95 verdict, at every evaluation', async () => {
    const random = rng(17);
    const step = bucketMs(plan);
    const end = Date.parse('2026-11-28T10:00:00Z');
    const start = end - 80 * MIN;
    await insertRoutes(db.app, routes(random, start, end + 1, 5000, step));
    for (let i = 0; i < 200; i++) {
      let at = start + Math.floor(random() * (end - start));
      if (random() < 0.1) at = Math.ceil(at / step) * step;
      if (random() < 0.8) await insertEvents(db.app, 'gen_ok', 1 + Math.floor(random() * 3), new Date(at));
      else await insertEvents(db.app, 'voucher_issued', 1, new Date(at), { reason: random() < 0.7 ? 'regenerate' : 'support' });
    }
    const series = emptySeries(start, step, (end - start) / step);
    await readHistory(db.metricsPool, plan, series);
    const windows = new SeriesWindows(plan, series);
    const threshold = plan.redLines.p95LatencyMs.threshold;
    let compared = 0;
    for (let i = (60 * MIN) / step - 1; i < series.length; i++) {
      const at = new Date(windows.timeAt(i));
      const bucketed = windows.snapshotAt(i);
      const oneShot = await readSnapshot(db.metricsPool, plan, at, [plan.trafficWindowMs]);
      for (const w of oneShot.routes) {
        const b = bucketed.routes.find((r) => r.windowMs === w.windowMs)!;
        for (const p of [plan.from, plan.to]) {
          const { p95LatencyMs: p95, ...exact } = w.providers[p];
          const { p95LatencyMs: bp95, ...bexact } = b.providers[p];
          expect(bexact, `${p} over ${w.windowMs / MIN} min at ${at.toISOString()}`).toEqual(exact);
          // The backtest judges the candidate's p95 only, by its verdict (core/backtest.ts p95Verdict).
          if (p === plan.to && p95 !== null) expect(bp95! >= threshold).toBe(p95 >= threshold);
        }
        const others = Object.entries(w.providers)
          .filter(([k]) => k !== plan.from && k !== plan.to)
          .reduce((a, [, s]) => a + s.requests, 0);
        expect(b.providers.other?.requests ?? 0).toBe(others);
      }
      expect(bucketed.vouchers).toEqual(oneShot.vouchers);
      compared++;
    }
    expect(compared).toBe(41); // every 30 s evaluation of the last 20 minutes
  });
});
