import type pg from 'pg';
import type { Plan } from '../plan/plan.ts';
import type { MetricsSnapshot, ProviderStats, RouteWindow, VoucherWindow } from '../core/metrics.ts';
import { addProviderSums, emptyProviderSums, type JudgeInputs, type StageProviderSums } from '../core/judge.ts';
import { p95SampleOf } from '../core/compare/quantile.ts';
import { logMomentsOf } from '../core/compare/sequential.ts';
import type { CostCluster } from '../core/compare/means.ts';
import { formatDecimal } from '../core/decimal.ts';
import { addRouteSums, addVoucherSums, type RouteSums, type VoucherSums } from '../core/sums.ts';
import {
  parseRouteSums,
  providerKey,
  providerStats,
  routeBucketsSql,
  sortedLatencies,
  sortedProviders,
  voucherBucketsSql,
  type SnapshotWindows,
  type WindowSource,
} from './metric-sums.ts';

/*
 * The process's one cache of per-minute sums, from which every window of every reader is built
 * (the guard's 5 min, 10 min and 1 h windows, status, reports), so an evaluation reads only the
 * rows that are new or due, once, in two queries (gen_route; gen_ok + vouchers) — not one query
 * per window.
 *
 * Minutes are [m, m + 1 min) from the epoch (date_bin through the (event_type, created_at)
 * index). A window [end − w, end] (metric-sums.ts: both ends included) is:
 *   - the head: the rows of minute floor(end − w) at or after end − w. For the longest window
 *     (1 h) it is read directly at every evaluation. A shorter window's head falls in a minute
 *     the cache holds whole for the longer windows: that minute is read once more per
 *     millisecond ("fine" parts) when it becomes a head, and the head then slides through it for
 *     a minute without another read (its rows are the same read as the longer windows' minute,
 *     so the windows never disagree about a minute's rows);
 *   - whole cached minutes up to the one that began SETTLE (2 min) before the end;
 *   - the tail: [that minute, end], re-read at every evaluation, so rows logged up to 2 min
 *     late are counted.
 * Cached minutes are re-read at most REFRESH (10 min, plus one evaluation interval) after their
 * last read, spread over the cycles so none pays for a whole re-read. The p95 window's minutes
 * also keep their latencies (float8, as PERCENTILE_CONT reads them), so p95 is computed exactly
 * in JS (metric-sums.ts percentileCont95) without re-reading 5 minutes.
 *
 * The result is exact, the same numbers as the one-shot queries over the same rows (counts are
 * integers; cost sums exact decimals divided as AVG(numeric) divides; p95 as Postgres
 * interpolates): test/integration/rolling-windows.test.ts. The one difference, by design: a row
 * that becomes visible more than SETTLE after its created_at (a client-side timestamp, a long
 * transaction, a lagging replica) lands in a minute already cached, and is missing until that
 * minute is re-read (≤ 10 min).
 *
 * Each process keeps its own cache (a new leader starts with one grouped read of the longest
 * window); reads through one instance are serialised. `latest` is the last snapshot built, which
 * the checklist refresh shows instead of reading the traffic split again.
 */

const MINUTE = 60_000;
export const SETTLE_MS = 2 * MINUTE;
export const REFRESH_MS = 10 * MINUTE;

interface Minute {
  /** Whole-minute sums per provider (latencies included when `latencies`). */
  route: Map<string | null, RouteSums>;
  vouchers: VoucherSums;
  /** Per-millisecond parts, for a minute that is some window's head; null otherwise. */
  fine: { route: [number, string | null, RouteSums][]; vouchers: [number, VoucherSums][] } | null;
  latencies: boolean;
  fetchedAt: number;
}

const floorMin = (t: number) => Math.floor(t / MINUTE) * MINUTE;
const emptyVouchers = (): VoucherSums => ({ vouchers: 0, genOk: 0 });
const withoutLatencies = (s: RouteSums): RouteSums => (s.latencies ? { ...s, latencies: null } : s);

/** `created_at` in any of the [lo, hi) or [lo, hi] ranges, as SQL with parameters from $first. */
function rangesSql(ranges: { lo: number; hi: number; inclusive: boolean }[], first: number): { sql: string; params: Date[] } {
  const params: Date[] = [];
  const parts = ranges.map((r) => {
    params.push(new Date(r.lo), new Date(r.hi));
    const i = first + params.length - 2;
    return `(created_at >= $${i} AND created_at ${r.inclusive ? '<=' : '<'} $${i + 1})`;
  });
  return { sql: parts.length === 1 ? parts[0] : `(${parts.join(' OR ')})`, params };
}

const BUCKET = `date_bin('1 minute', created_at, 'epoch'::timestamptz)`;
/**
 * Rows of the listed minutes come back per millisecond (floor: a row at x.5 ms is at or after
 * x ms). Plain range tests on created_at, and no per-row work at all when there are none.
 */
function partSql(fine: number[], first: number): { sql: string; params: Date[] } {
  if (!fine.length) return { sql: 'NULL::int8', params: [] };
  const params = fine.flatMap((m) => [new Date(m), new Date(m + MINUTE)]);
  const test = fine.map((_, i) => `(created_at >= $${first + 2 * i} AND created_at < $${first + 2 * i + 1})`).join(' OR ');
  return { sql: `CASE WHEN ${test} THEN floor(extract(epoch FROM created_at) * 1000)::int8 END`, params };
}

export interface ReadPlan {
  ranges: { lo: number; hi: number; inclusive: boolean }[];
  fine: number[];
  latenciesFrom: number;
}

/**
 * The two queries of one read, with their parameters (also for EXPLAIN in bench/). The judge's
 * per-row extras are taken in JS from what the cache already holds (the p95 window's latencies,
 * each minute's cost sums), never read per row: ln() and a numeric product per row made the read
 * ~60 % dearer (bench:db).
 */
export function bucketQueries(
  plan: Plan,
  read: ReadPlan,
): { route: { sql: string; params: unknown[] }; vouchers: { sql: string; params: unknown[] } } {
  const withLatencies = Number.isFinite(read.latenciesFrom);
  const head = [plan.maxLatencyMs, plan.maxCostPerImage, ...(withLatencies ? [new Date(read.latenciesFrom)] : [])];
  const rp = partSql(read.fine, head.length + 1);
  const r = rangesSql(read.ranges, head.length + rp.params.length + 1);
  const route = routeBucketsSql({
    bucket: BUCKET,
    part: rp.sql,
    where: r.sql,
    latMax: '$1',
    costMax: '$2',
    latenciesFrom: withLatencies ? '$3::timestamptz' : undefined,
  });
  const vp = partSql(read.fine, 1);
  const v = rangesSql(read.ranges, vp.params.length + 1);
  return {
    route: { sql: route, params: [...head, ...rp.params, ...r.params] },
    vouchers: { sql: voucherBucketsSql({ bucket: BUCKET, part: vp.sql, where: v.sql }), params: [...vp.params, ...v.params] },
  };
}

export class RollingWindows implements WindowSource {
  private minutes = new Map<number, Minute>();
  private queue: Promise<unknown> = Promise.resolve();
  /** The last snapshot built (the checklist refresh shows it). */
  latest: MetricsSnapshot | null = null;
  private latestJudge: JudgeInputs | null = null;
  /** What the last read fetched (for the bench and tests). */
  lastRead = { ranges: 0, minutes: 0, fineMinutes: 0 };

  constructor(private plan: Plan) {}

  snapshot(pool: Pick<pg.Pool, 'query'>, end: Date, windows: SnapshotWindows): Promise<MetricsSnapshot> {
    const run = this.queue.then(() => this.read(pool, end.getTime(), windows));
    this.queue = run.catch(() => {});
    return run;
  }

  /** One route window (p95 null), as readRouteWindow(…, false) returns it. */
  async readRoute(pool: Pick<pg.Pool, 'query'>, end: Date, windowMs: number): Promise<RouteWindow> {
    return (await this.snapshot(pool, end, { route: [windowMs], voucher: [], p95: -1 })).routes[0];
  }

  async readVoucher(pool: Pick<pg.Pool, 'query'>, end: Date, windowMs: number): Promise<VoucherWindow> {
    return (await this.snapshot(pool, end, { route: [], voucher: [windowMs], p95: -1 })).vouchers[0];
  }

  private async read(pool: Pick<pg.Pool, 'query'>, e: number, w: SnapshotWindows): Promise<MetricsSnapshot> {
    const span = planRead(e, w, this.minutes);
    this.forget(span);
    const fetched = await this.fetch(pool, span.read);
    this.lastRead = { ranges: span.read.ranges.length, minutes: span.need.length, fineMinutes: span.read.fine.length };
    this.keep(span, fetched, e);
    const minuteAt = (m: number) => (m >= span.first && m < span.b1 ? this.minutes.get(m)! : (fetched.get(m) ?? blank(false)));
    const { snapshot, judge } = assemble(this.plan, e, w, minuteAt);
    if (w.route.length > 1) {
      this.latest = snapshot;
      this.latestJudge = judge;
    }
    return snapshot;
  }

  /** Forgets what no window needs any more; keeps fine parts and latencies only where used. */
  private forget({ first, b1, heads, latenciesFrom }: ReadSpan): void {
    for (const [m, x] of this.minutes) {
      if (m < first || m >= b1) this.minutes.delete(m);
      else {
        if (x.fine && !heads.has(m)) x.fine = null;
        if (x.latencies && m < latenciesFrom) {
          x.latencies = false;
          for (const [p, r] of x.route) x.route.set(p, withoutLatencies(r));
        }
      }
    }
  }

  /**
   * Caches the minutes just read. A fill of many minutes at once (start, a clock jump): spread
   * their next re-read over the refresh interval, oldest first, so later cycles re-read a few
   * minutes each, not all at once.
   */
  private keep({ need, latenciesFrom }: ReadSpan, fetched: Map<number, Minute>, e: number): void {
    const spread = need.length > 10;
    need.forEach((m, i) => {
      const x = fetched.get(m) ?? blank(m >= latenciesFrom);
      x.fetchedAt = spread ? e - REFRESH_MS + Math.round((REFRESH_MS * (i + 1)) / need.length) : e;
      this.minutes.set(m, x);
    });
  }

  /** What the judge needs of the last full snapshot beyond its sums: p95 order statistics and per-minute costs. */
  judgeInputs(): JudgeInputs | null {
    return this.latestJudge;
  }

  /**
   * Sums per provider of the cached minutes in [from, to): requests, failures and, where the
   * minute still has its latencies (the p95 window's minutes), their log moments. The judge adds
   * each minute once, when it has settled, to the stage's sums.
   */
  settledSums(from: number, to: number, provider: string): StageProviderSums {
    let total = emptyProviderSums();
    for (const [m, x] of this.minutes) {
      if (m < from || m >= to) continue;
      const r = x.route.get(provider);
      if (!r) continue;
      total = addProviderSums(total, {
        requests: r.requests,
        failures: r.failures,
        latency: r.latencies ? logMomentsOf(r.latencies.filter((v) => v > 0)) : { n: 0, sumLog: 0, sumLogSquares: 0 },
      });
    }
    return total;
  }

  private async fetch(pool: Pick<pg.Pool, 'query'>, read: ReadPlan): Promise<Map<number, Minute>> {
    const q = bucketQueries(this.plan, read);
    const [route, vouchers] = [await pool.query(q.route.sql, q.route.params), await pool.query(q.vouchers.sql, q.vouchers.params)];
    const out = new Map<number, Minute>();
    const fine = new Set(read.fine);
    const at = (m: number) => {
      let x = out.get(m);
      if (!x) out.set(m, (x = { ...blank(m >= read.latenciesFrom), fine: fine.has(m) ? { route: [], vouchers: [] } : null }));
      return x;
    };
    for (const row of route.rows) {
      const x = at((row.bucket as Date).getTime());
      const s = parseRouteSums(row);
      if (row.part !== null) x.fine!.route.push([Number(row.part), row.provider, s]);
      const had = x.route.get(row.provider);
      x.route.set(row.provider, had ? addRouteSums(had, s) : s);
    }
    for (const row of vouchers.rows) {
      const x = at((row.bucket as Date).getTime());
      const v = { vouchers: row.vouchers, genOk: row.gen_ok };
      if (row.part !== null) x.fine!.vouchers.push([Number(row.part), v]);
      x.vouchers = addVoucherSums(x.vouchers, v);
    }
    // A head minute without rows still needs its (empty) parts.
    for (const m of fine) at(m);
    return out;
  }
}

/** What one read covers: the cached span [first, b1), the minutes to (re)read, and the read itself. */
interface ReadSpan {
  first: number;
  b1: number;
  heads: Set<number>;
  latenciesFrom: number;
  need: number[];
  read: ReadPlan;
}

/** Plans one read from the windows asked for and what the cache holds; pure (no I/O, no change to the cache). */
function planRead(e: number, w: SnapshotWindows, cached: ReadonlyMap<number, Minute>): ReadSpan {
  const starts = [...w.route, ...w.voucher].map((ms) => e - ms);
  const sL = Math.min(...starts);
  // The longest window's head, [sL, first), is read directly every time; whole minutes from
  // `first` up to b1 come from the cache; the tail [b1, e] is read every time.
  const first = Math.ceil(sL / MINUTE) * MINUTE;
  const b1 = Math.max(first, floorMin(e - SETTLE_MS));
  // Shorter windows' heads fall in cached minutes: those keep per-ms parts.
  const heads = new Set(starts.filter((s) => s % MINUTE !== 0 && s >= first).map(floorMin));
  if (sL % MINUTE !== 0 && starts.some((s) => s !== sL && floorMin(s) === floorMin(sL))) heads.add(floorMin(sL));
  const latenciesFrom = w.route.includes(w.p95) ? floorMin(e - w.p95) : Infinity;
  const need: number[] = [];
  for (let m = first; m < b1; m += MINUTE) {
    const x = cached.get(m);
    if (!x || x.fetchedAt <= e - REFRESH_MS || (heads.has(m) && !x.fine) || (m >= latenciesFrom && !x.latencies)) need.push(m);
  }
  const ranges: ReadPlan['ranges'] = [];
  const push = (lo: number, hi: number, inclusive: boolean) => {
    const last = ranges[ranges.length - 1];
    if (last && !last.inclusive && last.hi === lo) Object.assign(last, { hi, inclusive });
    else ranges.push({ lo, hi, inclusive });
  };
  if (sL < first) push(sL, Math.min(first, e), first > e);
  for (const m of need) push(m, m + MINUTE, false);
  if (b1 <= e) push(b1, e, true);
  const fine = [...heads].filter((m) => m < first || m >= b1 || need.includes(m));
  return { first, b1, heads, latenciesFrom, need, read: { ranges, fine, latenciesFrom } };
}

/** Every window of the snapshot from the minutes' sums, and what the judge needs of them; pure. */
function assemble(
  plan: Plan,
  e: number,
  w: SnapshotWindows,
  minuteAt: (m: number) => Minute,
): { snapshot: MetricsSnapshot; judge: JudgeInputs } {
  const judge: JudgeInputs = { p95: {}, costClusters: {} };
  const routes = w.route.map((ms): RouteWindow => {
    const s = e - ms;
    const withP95 = ms === w.p95;
    const clusters = ms === plan.redLines.costPerImageRatio.windowMs;
    const sums = new Map<string | null, RouteSums>();
    const add = (p: string | null, x: RouteSums, m: number) => {
      const y = withP95 ? x : withoutLatencies(x);
      const had = sums.get(p);
      sums.set(p, had ? addRouteSums(had, y) : y);
      if (clusters && x.costSamples > 0) {
        // The judge's cost interval: each minute's cost sum and count (clusteredCostRatio).
        const list = (judge.costClusters[providerKey(p)] ??= []);
        const last = list[list.length - 1] as (CostCluster & { m?: number }) | undefined;
        const sum = x.costSum ? Number(formatDecimal(x.costSum)) : 0;
        if (last && last.m === m) Object.assign(last, { sum: last.sum + sum, n: last.n + x.costSamples });
        else list.push(Object.assign({ sum, n: x.costSamples }, { m }));
      }
    };
    for (let m = floorMin(s); m <= e; m += MINUTE) {
      const x = minuteAt(m);
      // Before s: the rows at or after s of a cached head minute, or the direct head read (all ≥ s).
      if (m >= s || !x.fine) for (const [p, r] of x.route) add(p, r, m);
      else for (const [t, p, r] of x.fine.route) if (t >= s) add(p, r, m);
    }
    // Each provider's latencies sorted once: for the exact p95 and for the judge's order statistics.
    const providers = [...sums].map(([p, r]): [string, ProviderStats] => {
      if (!withP95) return [providerKey(p), providerStats(r, false)];
      const sorted = sortedLatencies(r.latencies);
      judge.p95[providerKey(p)] = r.latencies ? p95SampleOf(sorted, plan.compare.confidence) : null;
      return [providerKey(p), providerStats(r, true, sorted)];
    });
    return { windowMs: ms, end: new Date(e), providers: sortedProviders(providers) };
  });
  const vouchers = w.voucher.map((ms): VoucherWindow => {
    const s = e - ms;
    let total = emptyVouchers();
    for (let m = floorMin(s); m <= e; m += MINUTE) {
      const x = minuteAt(m);
      if (m >= s || !x.fine) total = addVoucherSums(total, x.vouchers);
      else for (const [t, v] of x.fine.vouchers) if (t >= s) total = addVoucherSums(total, v);
    }
    return { windowMs: ms, end: new Date(e), ...total };
  });
  return { snapshot: { at: new Date(e), routes, vouchers }, judge };
}

function blank(latencies: boolean): Minute {
  return { route: new Map(), vouchers: emptyVouchers(), fine: null, latencies, fetchedAt: 0 };
}
