import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultPlan } from '../../src/plan/plan.ts';
import { readRouteWindow, readSnapshot, readVoucherWindow } from '../../src/db/metrics-queries.ts';
import { RollingWindows, SETTLE_MS } from '../../src/db/rolling-windows.ts';
import { addDecimal, divideLikePostgres, parseDecimal, ZERO } from '../../src/core/decimal.ts';
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
const HOUR = 3_600_000;

/** A deterministic generator, so a failure can be replayed. */
function rng(seed: number) {
  let s = seed;
  return () => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

/** Varied gen_route rows in [from, to): both providers, an unknown one, no provider, junk values, costs of several scales. */
function routes(random: () => number, from: number, to: number, n: number): RouteRow[] {
  const rows: RouteRow[] = [];
  for (let i = 0; i < n; i++) {
    const r = random();
    const provider = r < 0.45 ? 'runware' : r < 0.9 ? 'fal' : r < 0.95 ? 'replicate' : (undefined as unknown as string);
    const j = random();
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
                : Math.round(500 + random() * 12_000),
      error: random() < 0.05 ? 'timeout' : null,
      cost:
        j < 0.1
          ? undefined
          : j < 0.12
            ? 'cheap'
            : j < 0.13
              ? 500
              : j < 0.5
                ? Number((0.004 + random() * 0.002).toFixed(5))
                : j < 0.8
                  ? Number((0.004 + random() * 0.002).toFixed(8))
                  : String((0.0045).toFixed(4)),
      at: new Date(from + Math.floor(random() * (to - from))),
    });
  }
  return rows;
}

async function vouchersAndOk(random: () => number, from: number, to: number, n: number) {
  for (let i = 0; i < n; i++) {
    const at = new Date(from + Math.floor(random() * (to - from)));
    const r = random();
    if (r < 0.8) await insertEvents(db.app, 'gen_ok', 1 + Math.floor(random() * 3), at);
    else await insertEvents(db.app, 'voucher_issued', 1, at, { reason: r < 0.9 ? 'regenerate' : 'support' });
  }
}

async function expectSameAsOneShot(rolling: RollingWindows, end: Date) {
  const [inc, full, incV, fullV] = [
    await rolling.readRoute(db.metricsPool, end, HOUR),
    await readRouteWindow(db.metricsPool, plan, end, HOUR, false),
    await rolling.readVoucher(db.metricsPool, end, HOUR),
    await readVoucherWindow(db.metricsPool, end, HOUR),
  ];
  expect(inc).toEqual(full);
  expect(incV).toEqual(fullV);
  return full;
}

describe('decimal sums', () => {
  it('dividing an exact sum by a count gives exactly what AVG(numeric) gives', async () => {
    const random = rng(3);
    for (let t = 0; t < 40; t++) {
      const n = 1 + Math.floor(random() * (t % 4 === 0 ? 4 : 3000));
      const scale = Math.floor(random() * 10);
      const mag = [0.00001, 0.005, 1, 37, 12_345, 0][t % 6];
      const vals = Array.from({ length: n }, () => (random() * mag).toFixed(scale));
      const { rows } = await db.pool.query('SELECT avg(v::numeric)::text AS a FROM unnest($1::text[]) AS v', [vals]);
      const sum = vals.reduce((s, v) => addDecimal(s, parseDecimal(v)), ZERO);
      expect(divideLikePostgres(sum, n)).toBe(rows[0].a);
    }
  });
});

describe('rolling 1 h windows equal the one-shot queries', () => {
  it('across inserts, late rows, minute boundaries and window slides', async () => {
    const random = rng(11);
    // Not minute-aligned, so the window's head and tail are partial minutes.
    let now = Date.parse('2026-11-28T10:00:17.345Z');
    await insertRoutes(db.app, routes(random, now - 80 * MIN, now, 3000));
    await vouchersAndOk(random, now - 80 * MIN, now, 300);
    const rolling = new RollingWindows(plan);
    await expectSameAsOneShot(rolling, new Date(now));
    // 50 cycles of 30 s (longer than the refresh interval), new traffic each cycle, some of it
    // logged late (up to the settle interval), some at the exact edges.
    for (let cycle = 0; cycle < 50; cycle++) {
      const prev = now;
      now += 30_000;
      const rows = routes(random, prev, now + 1, 60);
      rows.push(...routes(random, now - SETTLE_MS + 1, now - 30_000, 10)); // late, within the settle interval
      rows.push({ provider: 'runware', latencyMs: 1000, cost: 0.00512, at: new Date(now) }); // exactly at the end
      rows.push({ provider: 'runware', latencyMs: 1000, cost: 0.00512, at: new Date(now - HOUR) }); // exactly at the start
      await insertRoutes(db.app, rows);
      await vouchersAndOk(random, now - SETTLE_MS + 1, now + 1, 8);
      const full = await expectSameAsOneShot(rolling, new Date(now));
      expect(full.providers.runware.requests).toBeGreaterThan(1000);
    }
    // The guard's full read set, through readSnapshot, matches too.
    const end = new Date(now);
    const a = await readSnapshot(db.metricsPool, plan, end, [], rolling);
    const b = await readSnapshot(db.metricsPool, plan, end);
    expect(a).toEqual(b);
  });

  it('a row logged long after its time is counted at the next read; each settled minute is read once', async () => {
    const random = rng(5);
    let now = Date.parse('2026-11-28T10:00:05Z');
    await insertRoutes(db.app, routes(random, now - 70 * MIN, now, 1000));
    const rolling = new RollingWindows(plan);
    await expectSameAsOneShot(rolling, new Date(now));
    for (let i = 0; i < 5; i++) {
      await expectSameAsOneShot(rolling, new Date((now += 30_000)));
      expect(rolling.lastRead.incremental).toBe(true);
      // At most the minute that settled since, never a minute read before.
      expect(rolling.lastRead.minutes).toBeLessThanOrEqual(1);
    }
    // 20 minutes late: its minute settled long ago; it arrived after the last read, so it is read now.
    await insertRoutes(db.app, [{ provider: 'runware', latencyMs: 1000, cost: 0.9, at: new Date(now - 20 * MIN) }]);
    await expectSameAsOneShot(rolling, new Date((now += 5_000)));
  });

  it('rows logged ahead of the clock are counted when the clock reaches them, once', async () => {
    const random = rng(13);
    let now = Date.parse('2026-11-28T10:00:05.250Z');
    // Two hours of traffic are already there, most of it ahead of the clock (as in the benches).
    await insertRoutes(db.app, routes(random, now - 70 * MIN, now + 50 * MIN, 2000));
    await vouchersAndOk(random, now - 70 * MIN, now + 50 * MIN, 200);
    const rolling = new RollingWindows(plan);
    for (let i = 0; i < 40; i++) {
      await expectSameAsOneShot(rolling, new Date(now));
      now += 7_001;
      if (i % 10 === 3) {
        await insertRoutes(db.app, routes(random, now - 3 * MIN, now + 3 * MIN, 30));
        await vouchersAndOk(random, now - 3 * MIN, now + 3 * MIN, 10);
      }
    }
    expect(rolling.lastRead.incremental).toBe(true);
  });

  it('the clock going back, jumping ahead or standing still still gives the one-shot result', async () => {
    const random = rng(7);
    const t0 = Date.parse('2026-11-28T12:00:00Z');
    await insertRoutes(db.app, routes(random, t0 - 4 * HOUR, t0, 4000));
    await vouchersAndOk(random, t0 - 4 * HOUR, t0, 400);
    const rolling = new RollingWindows(plan);
    for (const t of [t0, t0, t0 - 90 * MIN, t0 - 89 * MIN - 1, t0 - 3 * HOUR, t0 - 30 * MIN + 59_999, t0 - 2 * MIN, t0 - 1]) {
      await expectSameAsOneShot(rolling, new Date(t));
    }
    // An empty hour: no providers at all, no division.
    const empty = await rolling.readRoute(db.metricsPool, new Date(t0 - 10 * HOUR), HOUR);
    expect(empty.providers).toEqual({});
    await expectSameAsOneShot(rolling, new Date(t0 - 10 * HOUR));
  });
});
