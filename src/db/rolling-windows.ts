import type pg from 'pg';
import type { QueryResultRow } from 'pg';
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
 * rows that arrived since the last one, in two statements (gen_route; gen_ok + vouchers) — not
 * one query per window, and not the same rows again.
 *
 * Minutes are [m, m + 1 min) from the epoch (date_bin through the (event_type, created_at)
 * index). A window [end − w, end] (metric-sums.ts: both ends included) is whole minutes plus its
 * head, the rows at or after end − w of the minute it starts in; that minute's sums are kept per
 * millisecond ("fine" parts) while some window's head is in it, so a head slides through the
 * minute without another read.
 *
 * Two kinds of minute:
 *   - settled: it ended SETTLE (2 min) or more before the end. Read once, whole, by created_at,
 *     when it settles (the "settle read", in counts only: no per-ms parts, no latencies), and
 *     never again in this process — except once more per millisecond when the longest window's
 *     head reaches it (the 1 h head), or for its latencies if it enters the p95 window without
 *     them. When the settle read counts what the head's reads counted (the usual case) the minute
 *     keeps their per-ms parts and latencies; otherwise its counts replace them;
 *   - the head: the minutes since then. Each read adds only the rows that arrived since the last
 *     read: `id > W OR created_at > E` (within the window: partitions prune), where W is the largest id and
 *     E the end of the last read. The two branches are the primary key's index (rows inserted
 *     since) and the guard's index (rows whose time has come since, e.g. logged ahead of the
 *     clock); a row is counted once because the rows already counted are exactly those with
 *     id ≤ W and created_at ≤ E. A late row (created_at in the past, inserted after the last
 *     read) has a larger id and is added to its minute, settled or not.
 * What id order cannot see: a row whose transaction took its id before the last read and
 * committed after it (a smaller id than W). The settle read sees it and replaces the minute's
 * incremental sums, so such a row is counted at the latest SETTLE after its minute
 * ends; one committed later still (a transaction open for minutes) is missing from this process's
 * windows until its minute leaves them. Each read is one statement per event family, so the
 * whole-minute and incremental branches see one snapshot: nothing counted twice.
 *
 * Without an index whose first column is `id` (checked once, in the catalog), the head is read
 * whole at every evaluation instead (correct, dearer). So is it after a gap longer than SETTLE,
 * the clock going back, or at the first read of a new process (a restart, a replica that becomes
 * leader): the head minutes are read whole and the watermark taken in the same statement.
 * The p95 window's minutes also keep their latencies (float8, as PERCENTILE_CONT reads them), so
 * p95 is computed exactly in JS (metric-sums.ts percentileCont95).
 *
 * The result is exact, the same numbers as the one-shot queries over the same rows (counts are
 * integers; cost sums exact decimals divided as AVG(numeric) divides; p95 as Postgres
 * interpolates): test/integration/rolling-windows.test.ts. Memory is bounded by the longest
 * window: its minutes' sums, per-ms parts only for the head minutes and the minutes the shorter
 * windows' heads will pass, latencies only for the p95 window.
 *
 * Each process keeps its own cache; reads through one instance are serialised. `latest` is the
 * last snapshot built, which the checklist refresh shows instead of reading the traffic split
 * again.
 */

const MINUTE = 60_000;
export const SETTLE_MS = 2 * MINUTE;

interface Minute {
  /** Whole-minute sums per provider (latencies included when `latencies`). */
  route: Map<string | null, RouteSums>;
  vouchers: VoucherSums;
  /** Per-millisecond parts, for a minute that is or will be some window's head; null otherwise. */
  fine: { route: [number, string | null, RouteSums][]; vouchers: [number, VoucherSums][] } | null;
  latencies: boolean;
  /** Read whole after it settled; until then its sums are the head's incremental reads. */
  settled: boolean;
}

const floorMin = (t: number) => Math.floor(t / MINUTE) * MINUTE;
const emptyVouchers = (): VoucherSums => ({ vouchers: 0, genOk: 0 });
const withoutLatencies = (s: RouteSums): RouteSums => (s.latencies ? { ...s, latencies: null } : s);

/** Bind parameters, numbered as they are added. */
function params() {
  const list: unknown[] = [];
  return { list, $: (v: unknown) => `$${list.push(v)}` };
}

/** `created_at` in any of the [lo, hi) or [lo, hi] ranges. */
function rangesSql(ranges: ReadPlan['ranges'], $: (v: unknown) => string): string {
  const parts = ranges.map((r) => `(created_at >= ${$(new Date(r.lo))} AND created_at ${r.inclusive ? '<=' : '<'} ${$(new Date(r.hi))})`);
  return parts.length === 1 ? parts[0] : `(${parts.join(' OR ')})`;
}

const BUCKET = `date_bin('1 minute', created_at, 'epoch'::timestamptz)`;
/**
 * A row's millisecond (floor: a row at x.5 ms is at or after x ms), as a timestamptz: date_trunc
 * works on the integer microseconds, where extract(epoch) × 1000 was numeric arithmetic per row.
 */
const MS = `date_trunc('milliseconds', created_at)`;
/**
 * Rows of the listed minutes come back per millisecond. Plain range tests on created_at, and no
 * per-row work at all when there are none.
 */
function partSql(fine: number[], $: (v: unknown) => string): string {
  if (!fine.length) return 'NULL::timestamptz';
  const test = fine.map((m) => `(created_at >= ${$(new Date(m))} AND created_at < ${$(new Date(m + MINUTE))})`).join(' OR ');
  return `CASE WHEN ${test} THEN ${MS} END`;
}

export interface ReadPlan {
  /** Whole minutes (settle reads, head re-reads) and, when the head is read whole, [its first minute, end]. */
  ranges: { lo: number; hi: number; inclusive: boolean }[];
  /** Minutes of `ranges` to return per millisecond. */
  fine: number[];
  /** Minutes that settle now: read whole, in counts only (no parts, no latencies), to check the head's sums. */
  check: number[];
  latenciesFrom: number;
  /** The window read: [from, upTo]. */
  from: number;
  upTo: number;
  /** The rows that arrived since the last read (ids as text), or null: take the watermark instead. */
  since: { route: string; vouchers: string; end: number } | null;
}

/**
 * The two statements of one read, with their parameters (also for EXPLAIN in bench/). Each is
 * one snapshot: the whole-minute ranges, the rows arrived since the last read (a row per bucket,
 * millisecond and provider, with the largest id read), or the current largest id. The judge's
 * per-row extras are taken in JS from what the cache already holds (the p95 window's latencies,
 * each minute's cost sums), never read per row.
 */
export function bucketQueries(
  plan: Plan,
  read: ReadPlan,
): { route: { sql: string; params: unknown[] }; vouchers: { sql: string; params: unknown[] } } {
  const withLatencies = Number.isFinite(read.latenciesFrom);
  const r = params();
  const latMax = r.$(plan.maxLatencyMs);
  const costMax = r.$(plan.maxCostPerImage);
  const routeParts: string[] = [];
  const v = params();
  const voucherParts: string[] = [];
  if (read.ranges.length) {
    const latenciesFrom = withLatencies ? `${r.$(new Date(read.latenciesFrom))}::timestamptz` : undefined;
    const part = partSql(read.fine, r.$);
    const where = rangesSql(read.ranges, r.$);
    routeParts.push(
      `SELECT *, NULL::text AS max_id FROM (${routeBucketsSql({ bucket: BUCKET, part, where, latMax, costMax, latenciesFrom })}) whole`,
    );
    const vpart = partSql(read.fine, v.$);
    voucherParts.push(
      `SELECT *, NULL::text AS max_id FROM (${voucherBucketsSql({ bucket: BUCKET, part: vpart, where: rangesSql(read.ranges, v.$) })}) whole`,
    );
  }
  if (read.check.length) {
    const check = read.check.map((m) => ({ lo: m, hi: m + MINUTE, inclusive: false }));
    routeParts.push(
      `SELECT *, NULL::text AS max_id FROM (${routeBucketsSql({ bucket: BUCKET, part: 'NULL::timestamptz', where: rangesSql(check, r.$), latMax, costMax })}) settled`,
    );
    voucherParts.push(
      `SELECT *, NULL::text AS max_id FROM (${voucherBucketsSql({ bucket: BUCKET, part: 'NULL::timestamptz', where: rangesSql(check, v.$) })}) settled`,
    );
  }
  if (read.since) {
    const arrived = (p: ReturnType<typeof params>, id: string) =>
      `(id > ${p.$(id)}::int8 OR created_at > ${p.$(new Date(read.since!.end))}) AND created_at >= ${p.$(new Date(read.from))} AND created_at <= ${p.$(new Date(read.upTo))}`;
    routeParts.push(routeBucketsSql({ bucket: BUCKET, part: MS, where: arrived(r, read.since.route), latMax, costMax, incremental: true }));
    voucherParts.push(voucherBucketsSql({ bucket: BUCKET, part: MS, where: arrived(v, read.since.vouchers), incremental: true }));
  } else {
    // The largest id of the rows this read counts (the window's: partitions prune).
    const watermark = (p: ReturnType<typeof params>) =>
      `(SELECT coalesce(max(id), 0) FROM analytics_logs WHERE created_at >= ${p.$(new Date(read.from))} AND created_at <= ${p.$(new Date(read.upTo))})::text`;
    routeParts.push(
      `SELECT NULL::timestamptz, NULL::timestamptz, NULL::text COLLATE "C", 0, 0, 0, 0, 0, NULL::text, NULL::float8[], ${watermark(r)}`,
    );
    voucherParts.push(`SELECT NULL::timestamptz, NULL::timestamptz, 0, 0, ${watermark(v)}`);
  }
  return {
    route: { sql: routeParts.map((p) => `(${p})`).join('\nUNION ALL\n'), params: r.list },
    vouchers: { sql: voucherParts.map((p) => `(${p})`).join('\nUNION ALL\n'), params: v.list },
  };
}

/** Whether the head can be read by id: an index on analytics_logs whose first column is an integer `id`. */
const ID_INDEX_SQL = `
SELECT EXISTS (
  SELECT 1 FROM pg_index i
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
  WHERE i.indrelid = to_regclass('analytics_logs') AND a.attname = 'id' AND a.atttypid IN ('int8'::regtype, 'int4'::regtype)
) AS by_id`;

export class RollingWindows implements WindowSource {
  private minutes = new Map<number, Minute>();
  /** Where the last read left off: the largest ids read (per statement) and its end. */
  private head: { route: string; vouchers: string; end: number } | null = null;
  private byId: boolean | null = null;
  private recheck = false;
  private queue: Promise<unknown> = Promise.resolve();
  /** The last snapshot built (the checklist refresh shows it). */
  latest: MetricsSnapshot | null = null;
  private latestJudge: JudgeInputs | null = null;
  /** What the last read fetched (for the bench and tests). */
  lastRead = { ranges: 0, minutes: 0, fineMinutes: 0, incremental: false };
  /** Since the start: reads, whole minutes read, and reads whose head was read whole (for the bench). */
  totals = { reads: 0, minutes: 0, wholeHeads: 0 };

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

  private async read(pool: Pick<pg.Pool, 'query'>, e: number, w: SnapshotWindows, again = false): Promise<MetricsSnapshot> {
    this.byId ??= (await pool.query(ID_INDEX_SQL)).rows[0].by_id === true;
    const head = this.byId && this.head && e >= this.head.end && e - this.head.end <= SETTLE_MS ? this.head : null;
    const span = planRead(e, w, this.minutes, head);
    this.forget(span, !span.read.since);
    // Until the read succeeds the head is unknown: a failed read makes the next one whole.
    this.head = null;
    const q = bucketQueries(this.plan, span.read);
    const route = await pool.query(q.route.sql, q.route.params);
    const vouchers = await pool.query(q.vouchers.sql, q.vouchers.params);
    this.head = this.keep(span, route.rows, vouchers.rows, e);
    this.lastRead = {
      ranges: span.read.ranges.length,
      minutes: span.need.length + span.read.check.length,
      fineMinutes: span.read.fine.length,
      incremental: !!span.read.since,
    };
    this.totals = {
      reads: this.totals.reads + 1,
      minutes: this.totals.minutes + span.need.length + span.read.check.length,
      wholeHeads: this.totals.wholeHeads + (span.read.since ? 0 : 1),
    };
    // A settle read found rows the head's reads had not: the minute's per-ms parts and latencies
    // are read again now, before anyone (the judge's stage sums) takes the settled minute.
    if (this.recheck && !again) {
      this.recheck = false;
      return this.read(pool, e, w, true);
    }
    const { snapshot, judge } = assemble(this.plan, e, w, (m) => this.minutes.get(m) ?? blank(false));
    if (w.route.length > 1) {
      this.latest = snapshot;
      this.latestJudge = judge;
    }
    return snapshot;
  }

  /**
   * Forgets what no window needs any more; keeps fine parts and latencies only where used. When
   * the head is read whole, its minutes (and any cached beyond them) are dropped first.
   */
  private forget({ first, b1, heads, fineFrom, latenciesFrom }: ReadSpan, whole: boolean): void {
    for (const [m, x] of this.minutes) {
      if (m < first || (whole && (m >= b1 || !x.settled))) this.minutes.delete(m);
      else {
        if (x.fine && x.settled && m < fineFrom && !heads.has(m)) x.fine = null;
        if (x.latencies && m < latenciesFrom) {
          x.latencies = false;
          for (const [p, r] of x.route) x.route.set(p, withoutLatencies(r));
        }
      }
    }
  }

  /** Puts a read's rows in the cache: whole minutes replace, arrived rows add; returns the new watermark. */
  private keep(
    span: ReadSpan,
    routeRows: QueryResultRow[],
    voucherRows: QueryResultRow[],
    e: number,
  ): { route: string; vouchers: string; end: number } {
    const { read, need, first, b1, latenciesFrom } = span;
    const fine = new Set(read.fine);
    const whole = new Map<number, Minute>();
    const wholeAt = (m: number) => {
      let x = whole.get(m);
      if (!x) whole.set(m, (x = { ...blank(m >= latenciesFrom), fine: fine.has(m) ? { route: [], vouchers: [] } : null, settled: m < b1 }));
      return x;
    };
    // Every minute read whole is replaced, rows or not (a head minute without rows still needs its empty parts).
    for (const m of need) wholeAt(m);
    // Minutes that settle now, read whole in counts only to check them against their incremental sums.
    const check = new Map(read.check.map((m) => [m, blank(false)]));
    if (!read.since) for (let m = Math.max(first, b1); m <= e; m += MINUTE) wholeAt(m);
    // Rows arrived since the last read go to their minute, unless it is read whole in this same statement.
    const arrivedAt = (m: number): Minute | null => {
      if (m < first || whole.has(m)) return null;
      let x = this.minutes.get(m);
      if (!x) this.minutes.set(m, (x = { ...blank(m >= latenciesFrom), fine: { route: [], vouchers: [] } }));
      return x;
    };
    let [wRoute, wVouchers] = [read.since?.route ?? '0', read.since?.vouchers ?? '0'];
    const maxId = (a: string, b: string) => (BigInt(b) > BigInt(a) ? b : a);
    for (const row of routeRows) {
      if (row.bucket === null) {
        wRoute = row.max_id;
        continue;
      }
      const m = (row.bucket as Date).getTime();
      const arrived = row.max_id !== null;
      if (arrived) wRoute = maxId(wRoute, row.max_id);
      const x = arrived ? arrivedAt(m) : (check.get(m) ?? wholeAt(m));
      if (!x) continue;
      const s = x.latencies ? parseRouteSums(row) : withoutLatencies(parseRouteSums(row));
      if (row.part !== null && x.fine) x.fine.route.push([(row.part as Date).getTime(), row.provider, s]);
      const had = x.route.get(row.provider);
      x.route.set(row.provider, had ? addRouteSums(had, s) : s);
    }
    for (const row of voucherRows) {
      if (row.bucket === null) {
        wVouchers = row.max_id;
        continue;
      }
      const m = (row.bucket as Date).getTime();
      const arrived = row.max_id !== null;
      if (arrived) wVouchers = maxId(wVouchers, row.max_id);
      const x = arrived ? arrivedAt(m) : (check.get(m) ?? wholeAt(m));
      if (!x) continue;
      const v = { vouchers: row.vouchers, genOk: row.gen_ok };
      if (row.part !== null && x.fine) x.fine.vouchers.push([(row.part as Date).getTime(), v]);
      x.vouchers = addVoucherSums(x.vouchers, v);
    }
    for (const [m, x] of whole) this.minutes.set(m, x);
    // The same rows (the log only grows, so equal counts are equal rows): the minute keeps its
    // per-ms parts and latencies. Otherwise a row committed after its id was passed: the whole
    // counts replace the minute's, and its parts and latencies are read again when needed.
    for (const [m, c] of check) {
      const x = this.minutes.get(m);
      if (x && sameCounts(x, c)) x.settled = true;
      else {
        this.minutes.set(m, { ...c, settled: true });
        this.recheck = true;
      }
    }
    return { route: wRoute, vouchers: wVouchers, end: e };
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
}

/** What one read covers: the span's first minute, the first unsettled one, the minutes to read whole, and the read itself. */
interface ReadSpan {
  first: number;
  b1: number;
  heads: Set<number>;
  /** Settled minutes from here on keep their per-ms parts: a shorter window's head will pass them. */
  fineFrom: number;
  latenciesFrom: number;
  need: number[];
  read: ReadPlan;
}

/** Plans one read from the windows asked for, what the cache holds and where the last read left off; pure. */
function planRead(e: number, w: SnapshotWindows, cached: ReadonlyMap<number, Minute>, head: RollingWindows['head']): ReadSpan {
  const starts = [...w.route, ...w.voucher].map((ms) => e - ms).sort((a, b) => a - b);
  const first = floorMin(starts[0]);
  const b1 = Math.max(first, floorMin(e - SETTLE_MS));
  const heads = new Set(starts.filter((s) => s % MINUTE !== 0).map(floorMin));
  const shorter = starts.find((s) => floorMin(s) > first);
  const fineFrom = shorter === undefined ? Infinity : floorMin(shorter);
  const latenciesFrom = w.route.includes(w.p95) ? floorMin(e - w.p95) : Infinity;
  // The head's minutes are read whole when the last read's watermark is unknown or no use, or
  // when they lack latencies the p95 window now needs (the first read with p95 after reads without).
  for (const [m, x] of cached) if (m >= b1 && m >= latenciesFrom && !x.latencies) head = null;
  const need: number[] = [];
  const check: number[] = [];
  for (let m = first; m < b1; m += MINUTE) {
    const x = cached.get(m);
    if (!x || (!head && !x.settled) || (heads.has(m) && !x.fine) || (m >= latenciesFrom && !x.latencies)) need.push(m);
    else if (!x.settled) check.push(m);
  }
  const ranges: ReadPlan['ranges'] = [];
  const push = (lo: number, hi: number, inclusive: boolean) => {
    const last = ranges[ranges.length - 1];
    if (last && !last.inclusive && last.hi === lo) Object.assign(last, { hi, inclusive });
    else ranges.push({ lo, hi, inclusive });
  };
  for (const m of need) push(m, m + MINUTE, false);
  const fine = need.filter((m) => m >= fineFrom || heads.has(m));
  if (!head) {
    push(b1, e, true);
    for (let m = b1; m <= e; m += MINUTE) fine.push(m);
  }
  return {
    first,
    b1,
    heads,
    fineFrom,
    latenciesFrom,
    need,
    read: { ranges, fine, check, latenciesFrom, from: first, upTo: e, since: head },
  };
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

/** Whether two readings of a minute counted the same rows: every count and cost sum per provider, vouchers and gen_ok. */
function sameCounts(a: Minute, b: Minute): boolean {
  if (a.vouchers.vouchers !== b.vouchers.vouchers || a.vouchers.genOk !== b.vouchers.genOk || a.route.size !== b.route.size) return false;
  for (const [p, x] of a.route) {
    const y = b.route.get(p);
    if (!y) return false;
    const cost = (s: RouteSums) => (s.costSum ? formatDecimal(s.costSum) : null);
    if (x.requests !== y.requests || x.failures !== y.failures || x.latencySamples !== y.latencySamples) return false;
    if (x.costSamples !== y.costSamples || x.costSkipped !== y.costSkipped || cost(x) !== cost(y)) return false;
  }
  return true;
}

function blank(latencies: boolean): Minute {
  return { route: new Map(), vouchers: emptyVouchers(), fine: null, latencies, settled: false };
}
