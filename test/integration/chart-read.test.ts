import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { QueryResultRow } from 'pg';
import { defaultPlan } from '../../src/plan/plan.ts';
import { bucketMs } from '../../src/core/backtest.ts';
import { BIN_RATIO } from '../../src/core/latency-histogram.ts';
import { fetchHistoryRows } from '../../src/db/history-queries.ts';
import { fetchChartRows } from '../../src/db/chart-queries.ts';
import { numeric } from '../../src/db/metric-sums.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { insertEvents, insertRoutes, type RouteRow } from '../support/traffic.ts';

// A chart reads the span's gen_route rows once for both its sums and its latency histograms;
// that read must return what the two reads it replaced returned: the backtest's history rows,
// and the histogram query below (the one the chart used before), on the same rows.
let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

const plan = defaultPlan();
const step = bucketMs(plan);
const START = Date.parse('2026-11-28T08:00:00Z');
const END = START + 40 * 60_000;

// The histograms' own read, as chart-queries.ts had it: $1 from, $2 to, $3 origin, $4 step, $5 maxLatencyMs, $6 `from`, $7 `to`.
const OLD_BINS_SQL = `
SELECT i, p, CASE WHEN lat < 1 THEN 0 ELSE 1 + floor(ln(lat) / ln(${BIN_RATIO}))::int END AS bin, count(*)::int AS n
FROM (
  SELECT date_bin($4::interval, created_at, $3::timestamptz) AS i,
         CASE event_data->>'provider' WHEN $6 THEN 0 ELSE 1 END AS p,
         (${numeric("(event_data->'latency_ms')", '$5')})::float8 AS lat
  FROM analytics_logs
  WHERE event_type = 'gen_route' AND created_at >= $1 AND created_at < $2 AND event_data->>'provider' IN ($6, $7)
  OFFSET 0
) r
WHERE lat IS NOT NULL
GROUP BY 1, 2, 3`;

function rng(seed: number) {
  let s = seed;
  return () => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

/** Both providers, another, none; junk, negative, string, too large and sub-millisecond latencies; junk and string costs; rows on bucket edges and at the end instant. */
function routes(random: () => number, n: number): RouteRow[] {
  const latencies: (() => RouteRow['latencyMs'])[] = [
    () => 'fast',
    () => -5,
    () => String(Math.round(900 + random() * 9000)),
    () => '1.5e3',
    () => 10_000_000,
    () => 0.4,
    () => 0,
    () => null,
    () => 1.02 ** 400, // a bin's edge
    () => Math.round(500 + random() * 20_000),
    () => Math.round(1000 + random() * 3000),
  ];
  const costs: (() => RouteRow['cost'])[] = [
    () => undefined,
    () => 'cheap',
    () => '0.0045',
    () => -1,
    () => Number((0.004 + random() * 0.002).toFixed(9)),
  ];
  const rows: RouteRow[] = [];
  for (let i = 0; i < n; i++) {
    const r = random();
    const provider = r < 0.45 ? 'runware' : r < 0.85 ? 'fal' : r < 0.93 ? 'replicate' : (undefined as unknown as string);
    let at = START + Math.floor(random() * (END - START));
    if (random() < 0.08) at = Math.ceil(at / step) * step;
    rows.push({
      provider,
      latencyMs: latencies[Math.floor(random() * latencies.length)](),
      error: random() < 0.05 ? 'timeout' : null,
      cost: costs[Math.floor(random() * costs.length)](),
      at: new Date(at),
    });
  }
  rows.push(
    { provider: 'fal', latencyMs: 2_000, cost: 0.005, at: new Date(END) },
    { provider: 'runware', latencyMs: 3_000, at: new Date(END) },
  );
  return rows;
}

const key = (r: QueryResultRow) => JSON.stringify(Object.values(r));
const sorted = (rows: QueryResultRow[]) => [...rows].sort((a, b) => (key(a) < key(b) ? -1 : 1));

describe("the chart's one read of the span", () => {
  it('returns the sums of the history read and the bins of the histogram read, bad values included', async () => {
    await insertRoutes(db.app, routes(rng(7), 3_000));
    for (const m of [0, 5, 17, 39, 40]) {
      await insertEvents(db.app, 'gen_ok', 3, new Date(START + m * 60_000));
      await insertEvents(db.app, 'voucher_issued', 2, new Date(START + m * 60_000 + 15_000), { reason: 'regenerate' });
      await insertEvents(db.app, 'voucher_issued', 1, new Date(START + m * 60_000), { reason: 'goodwill' });
    }
    for (const [from, latencyFrom] of [
      [START, START + 10 * 60_000], // 40 min: read as two halves
      [START + 20 * 60_000, START], // 20 min, in one piece; the histograms start with the read
      [END, START], // the end instant alone: no histogram
    ]) {
      const combined = await fetchChartRows(db.metricsPool, plan, 0, step, from, END, latencyFrom);
      const history = await fetchHistoryRows(db.metricsPool, plan, 0, step, from, END, true);
      const { rows: bins } = await db.metricsPool.query(OLD_BINS_SQL, [
        new Date(Math.max(from, latencyFrom)),
        new Date(END),
        new Date(0),
        `${step} milliseconds`,
        plan.maxLatencyMs,
        plan.from,
        plan.to,
      ]);
      expect(sorted(combined.history.route)).toEqual(sorted(history.route));
      expect(sorted(combined.history.genOk)).toEqual(sorted(history.genOk));
      expect(sorted(combined.history.vouchers)).toEqual(sorted(history.vouchers));
      expect(sorted(combined.bins)).toEqual(sorted(bins));
      if (from === START) {
        expect(bins.length).toBeGreaterThan(100);
        expect(history.route.some((r) => r.part !== null && r.provider === null)).toBe(true);
      }
    }
  });
});
