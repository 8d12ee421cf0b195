import type pg from 'pg';
import type { Plan } from '../plan/plan.ts';
import type { ProviderStats, RouteWindow, VoucherWindow } from '../core/metrics.ts';
import { addDecimal, divideLikePostgres, parseDecimal, type Decimal } from '../core/decimal.ts';
import { numeric } from './metrics-queries.ts';

/*
 * The guard's long windows (cost and regenerate-voucher, 1 h), read incrementally.
 *
 * Every 30 s the guard needs the same aggregates over [now − 1 h, now] that the one-shot
 * queries in metrics-queries.ts compute. Reading the whole hour each time costs the whole hour
 * of rows each time. Instead this keeps per-minute sums (minutes from the epoch, grouped with
 * date_bin('1 minute', created_at, epoch) through the (event_type, created_at) index) and each
 * cycle reads only:
 *   - the head: [now − 1 h, first whole minute) (under a minute of rows);
 *   - the tail: [the minute that began SETTLE (2 min) before now, now] — always re-read, so
 *     rows logged up to 2 min late are counted;
 *   - minutes that became settled since the last cycle, and minutes whose cached sums are
 *     REFRESH (10 min) old: every cached minute is re-read at most 10 min (plus one
 *     evaluation interval) after it was last read, spread over the cycles so none pays for a
 *     whole re-read.
 * The result is exact, the same numbers as the one-shot query over the same rows (counts are
 * integers; cost sums are exact decimals, and the average is divided as Postgres' AVG(numeric)
 * does it): test/integration/rolling-windows.test.ts.
 *
 * The one difference, by design: a row that becomes visible more than SETTLE after its
 * created_at (a client-side timestamp, a long transaction, a lagging replica) lands in a minute
 * already cached, and is missing from the 1 h windows until that minute is re-read (≤ 10 min).
 * p95 is never read this way (a percentile cannot be added up per minute): the 5 min windows,
 * status, reports and backtests keep their exact one-shot reads.
 *
 * Not thread-safe across processes, and need not be: each process keeps its own cache (a new
 * leader starts with a full read); reads through one instance are serialised.
 */

const MINUTE = 60_000;
export const SETTLE_MS = 2 * MINUTE;
export const REFRESH_MS = 10 * MINUTE;
/** Windows shorter than this are read in one shot (the bookkeeping would cost more than it saves). */
export const MIN_ROLLING_WINDOW_MS = 15 * MINUTE;

export interface Range {
  lo: number;
  hi: number;
  /** true: [lo, hi]; false: [lo, hi). */
  inclusive: boolean;
}

interface Bucket<A> {
  sums: A;
  fetchedAt: number;
}

interface Kind<A> {
  empty(): A;
  add(a: A, b: A): A;
  /** Sums per minute (epoch ms of the minute's start) of the rows in the ranges. */
  fetch(pool: Pick<pg.Pool, 'query'>, ranges: Range[]): Promise<Map<number, A>>;
}

const floorMin = (t: number) => Math.floor(t / MINUTE) * MINUTE;
const ceilMin = (t: number) => Math.ceil(t / MINUTE) * MINUTE;

/** `created_at` in any of the ranges, as SQL with parameters starting at $first. */
function rangesSql(ranges: Range[], first: number): { sql: string; params: Date[] } {
  const params: Date[] = [];
  const parts = ranges.map((r) => {
    params.push(new Date(r.lo), new Date(r.hi));
    const i = first + params.length - 2;
    return `(created_at >= $${i} AND created_at ${r.inclusive ? '<=' : '<'} $${i + 1})`;
  });
  return { sql: parts.length === 1 ? parts[0] : `(${parts.join(' OR ')})`, params };
}

/** Per-minute sums of one kind of window, over a window that slides with the clock. */
class Rolling<A> {
  private buckets = new Map<number, Bucket<A>>();
  private queue: Promise<unknown> = Promise.resolve();
  /** Minutes read by the last call (for the bench and tests). */
  lastRead = { ranges: 0, minutes: 0 };

  constructor(private kind: Kind<A>, private windowMs: number) {}

  read(pool: Pick<pg.Pool, 'query'>, end: Date): Promise<A> {
    const run = this.queue.then(() => this.readNow(pool, end.getTime()));
    this.queue = run.catch(() => {});
    return run;
  }

  private async readNow(pool: Pick<pg.Pool, 'query'>, e: number): Promise<A> {
    const s = e - this.windowMs;
    const b0 = ceilMin(s);
    const b1 = floorMin(e - SETTLE_MS);
    if (b1 <= b0) {
      const rows = await this.kind.fetch(pool, [{ lo: s, hi: e, inclusive: true }]);
      return [...rows.values()].reduce((a, x) => this.kind.add(a, x), this.kind.empty());
    }
    for (const [m, b] of this.buckets) if (m < b0 || m >= b1 || b.fetchedAt > e) this.buckets.delete(m);
    const need: number[] = [];
    for (let m = b0; m < b1; m += MINUTE) {
      const b = this.buckets.get(m);
      if (!b || b.fetchedAt <= e - REFRESH_MS) need.push(m);
    }
    const ranges: Range[] = [];
    const push = (lo: number, hi: number, inclusive: boolean) => {
      const last = ranges[ranges.length - 1];
      if (last && !last.inclusive && last.hi === lo) {
        last.hi = hi;
        last.inclusive = inclusive;
      } else ranges.push({ lo, hi, inclusive });
    };
    if (s < b0) push(s, b0, false);
    for (const m of need) push(m, m + MINUTE, false);
    push(b1, e, true);
    const rows = await this.kind.fetch(pool, ranges);
    this.lastRead = { ranges: ranges.length, minutes: need.length };

    // A fill of many minutes at once (start, a clock jump): spread their next re-read over the
    // refresh interval, oldest first, so later cycles re-read a few minutes each, not all at once.
    const spread = need.length > 10;
    need.forEach((m, i) => {
      const fetchedAt = spread ? e - REFRESH_MS + Math.round((REFRESH_MS * (i + 1)) / need.length) : e;
      this.buckets.set(m, { sums: rows.get(m) ?? this.kind.empty(), fetchedAt });
    });
    let total = this.kind.empty();
    for (let m = b0; m < b1; m += MINUTE) total = this.kind.add(total, this.buckets.get(m)!.sums);
    for (const [m, sums] of rows) if (m < b0 || m >= b1) total = this.kind.add(total, sums);
    return total;
  }
}

// --- gen_route per provider (the cost window) -----------------------------------------------

interface RouteSums {
  requests: number;
  failures: number;
  latencySamples: number;
  costSamples: number;
  costSkipped: number;
  /** Exact sum of the usable costs; null when there were none (as SUM gives). */
  costSum: Decimal | null;
}

type RouteAgg = Map<string, RouteSums>;

const addRoute = (a: RouteSums, b: RouteSums): RouteSums => ({
  requests: a.requests + b.requests,
  failures: a.failures + b.failures,
  latencySamples: a.latencySamples + b.latencySamples,
  costSamples: a.costSamples + b.costSamples,
  costSkipped: a.costSkipped + b.costSkipped,
  costSum: a.costSum && b.costSum ? addDecimal(a.costSum, b.costSum) : (a.costSum ?? b.costSum),
});

/** The same per-row reading as ROUTE_WINDOW_NO_P95_SQL, summed per minute and provider. */
const routeBucketsSql = (where: string) => `
SELECT minute, provider,
       count(*)::int AS requests,
       count(*) FILTER (WHERE failed)::int AS failures,
       count(lat)::int AS latency_samples,
       count(cost)::int AS cost_samples,
       (count(*) FILTER (WHERE has_cost) - count(cost))::int AS cost_skipped,
       sum(cost)::text AS cost_sum
FROM (
  SELECT minute, provider, failed, has_cost, ${numeric('lat_j', '$1')} AS lat, ${numeric('cost_j', '$2')} AS cost
  FROM (
    SELECT date_bin('1 minute', created_at, 'epoch'::timestamptz) AS minute,
           event_data->>'provider' COLLATE "C" AS provider,
           event_data->>'error' IS NOT NULL AS failed,
           event_data->'latency_ms' AS lat_j,
           event_data->'cost_per_image' AS cost_j,
           event_data->>'cost_per_image' IS NOT NULL AS has_cost
    FROM analytics_logs
    WHERE event_type = 'gen_route' AND ${where}
    OFFSET 0
  ) raw
  OFFSET 0
) route
GROUP BY minute, provider`;

/** The per-minute route query over these ranges, with its parameters (for EXPLAIN in bench/). */
export function routeBucketsQuery(plan: Plan, ranges: Range[]): { sql: string; params: unknown[] } {
  const r = rangesSql(ranges, 3);
  return { sql: routeBucketsSql(r.sql), params: [plan.maxLatencyMs, plan.maxCostPerImage, ...r.params] };
}

/** The per-minute voucher query over these ranges, with its parameters (for EXPLAIN in bench/). */
export function voucherBucketsQuery(ranges: Range[]): { sql: string; params: unknown[] } {
  const r = rangesSql(ranges, 1);
  return { sql: voucherBucketsSql(r.sql), params: r.params };
}

const routeKind = (plan: Plan): Kind<RouteAgg> => ({
  empty: () => new Map(),
  add(a, b) {
    const out = new Map(a);
    for (const [p, s] of b) out.set(p, out.has(p) ? addRoute(out.get(p)!, s) : s);
    return out;
  },
  async fetch(pool, ranges) {
    const q = routeBucketsQuery(plan, ranges);
    const { rows } = await pool.query(q.sql, q.params);
    const out = new Map<number, RouteAgg>();
    for (const row of rows) {
      const m = (row.minute as Date).getTime();
      if (!out.has(m)) out.set(m, new Map());
      out.get(m)!.set(row.provider ?? '(none)', {
        requests: row.requests, failures: row.failures, latencySamples: row.latency_samples,
        costSamples: row.cost_samples, costSkipped: row.cost_skipped,
        costSum: row.cost_sum === null ? null : parseDecimal(row.cost_sum),
      });
    }
    return out;
  },
});

// --- gen_ok and regenerate vouchers (all traffic) --------------------------------------------

interface VoucherSums {
  vouchers: number;
  genOk: number;
}

const voucherBucketsSql = (where: string) => `
SELECT date_bin('1 minute', created_at, 'epoch'::timestamptz) AS minute,
       count(*) FILTER (WHERE event_type = 'voucher_issued' AND event_data->>'reason' = 'regenerate')::int AS vouchers,
       count(*) FILTER (WHERE event_type = 'gen_ok')::int AS gen_ok
FROM analytics_logs
WHERE event_type IN ('voucher_issued', 'gen_ok') AND ${where}
GROUP BY 1`;

const voucherKind: Kind<VoucherSums> = {
  empty: () => ({ vouchers: 0, genOk: 0 }),
  add: (a, b) => ({ vouchers: a.vouchers + b.vouchers, genOk: a.genOk + b.genOk }),
  async fetch(pool, ranges) {
    const q = voucherBucketsQuery(ranges);
    const { rows } = await pool.query(q.sql, q.params);
    return new Map(rows.map((row) => [(row.minute as Date).getTime(), { vouchers: row.vouchers, genOk: row.gen_ok }]));
  },
};

/** The incremental readers of one process (the guard keeps one per service). */
export class RollingWindows {
  private routes = new Map<number, Rolling<RouteAgg>>();
  private vouchers = new Map<number, Rolling<VoucherSums>>();

  constructor(private plan: Plan) {}

  /** Like readRouteWindow(…, withP95 = false): p95 is null. */
  async readRoute(pool: Pick<pg.Pool, 'query'>, end: Date, windowMs: number): Promise<RouteWindow> {
    let r = this.routes.get(windowMs);
    if (!r) this.routes.set(windowMs, (r = new Rolling(routeKind(this.plan), windowMs)));
    const agg = await r.read(pool, end);
    const providers: Record<string, ProviderStats> = {};
    for (const [p, s] of agg) {
      providers[p] = {
        requests: s.requests,
        failures: s.failures,
        latencySamples: s.latencySamples,
        latencySkipped: s.requests - s.latencySamples,
        p95LatencyMs: null,
        costSamples: s.costSamples,
        costSkipped: s.costSkipped,
        avgCostPerImage: s.costSum && s.costSamples > 0 ? Number(divideLikePostgres(s.costSum, s.costSamples)) : null,
      };
    }
    return { windowMs, end, providers };
  }

  async readVoucher(pool: Pick<pg.Pool, 'query'>, end: Date, windowMs: number): Promise<VoucherWindow> {
    let r = this.vouchers.get(windowMs);
    if (!r) this.vouchers.set(windowMs, (r = new Rolling(voucherKind, windowMs)));
    const v = await r.read(pool, end);
    return { windowMs, end, vouchers: v.vouchers, genOk: v.genOk };
  }

  /** What the last read of each window fetched (ranges, whole minutes), for the bench. */
  lastReads(): Record<string, { ranges: number; minutes: number }> {
    return Object.fromEntries([
      ...[...this.routes].map(([w, r]) => [`route ${w / MINUTE} min`, r.lastRead]),
      ...[...this.vouchers].map(([w, r]) => [`vouchers ${w / MINUTE} min`, r.lastRead]),
    ]);
  }
}
