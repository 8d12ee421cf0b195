import type { QueryResultRow } from 'pg';
import type pg from 'pg';
import type { Plan } from '../plan/plan.ts';
import type { HistoryRows } from './history-queries.ts';
import { fetchChartRows, type ChartRangeRows } from './chart-queries.ts';
import type { StoredBucket } from './chart-store.ts';

/*
 * The leader draws a chart of the stage so far at every report (every 15 min by default) and at
 * every alert: the same hours again and again. This keeps each bucket's grouped rows (history
 * sums and latency bins, as the queries return them) once the bucket has settled, so a chart
 * reads only what is new since the last one: about 15 minutes of rows instead of hours.
 * Buckets it does not hold come from the leader's persisted buckets when there are any
 * (chart-store.ts, warmed by engine/chart-warm.ts, the same rule), so even a new process reads
 * only the unsettled minutes raw.
 *
 * A bucket is kept once it ended SETTLE (2 min) before the read, and reused for MAX_AGE (4 h, so
 * a 3 h stage is re-read whole at most once): a row logged more than 2 minutes late can be missing
 * from a chart for up to that long (the guard's own numbers never come from here). Buckets are aligned to the epoch in steps of the
 * plan's bucket, which every chart's series also is.
 */

const SETTLE_MS = 2 * 60_000;
export const MAX_AGE_MS = 4 * 3_600_000;
/** Nothing older than this is ever charted (the chart command's limit, plus the 1 h windows). */
export const KEEP_MS = 25 * 3_600_000;

interface Bucket {
  history: HistoryRows;
  /** Latency bins, or null when the bucket was read without them (before the p95 span). */
  bins: QueryResultRow[] | null;
  fetchedAt: number;
}

export interface ChartRows {
  history: HistoryRows;
  bins: QueryResultRow[];
  /** The spans read raw ([from, to], `to` included only for the last); the rest came from the caches. */
  rawSpans: [number, number][];
}

/** Persisted settled buckets in [fromMs, toMs) read at or after freshFrom (chart-store.ts's loadBuckets, bound to a pool and key). */
export type BucketStore = (fromMs: number, toMs: number, freshFrom: number, nowMs: number) => Promise<Map<number, StoredBucket>>;

/** The end of the last settled bucket at nowMs: buckets starting before it minus one step are settled. */
export const settledEnd = (nowMs: number, stepMs: number): number => Math.floor((nowMs - SETTLE_MS) / stepMs) * stepMs;

/**
 * A raw read of [a, b) cut into its settled buckets (empty ones too: an empty bucket is an
 * answer), with bins from binFrom on (null before it).
 */
export function settledBuckets(
  rows: ChartRangeRows,
  a: number,
  b: number,
  stepMs: number,
  binFrom: number,
  nowMs: number,
): Map<number, { history: HistoryRows; bins: QueryResultRow[] | null }> {
  const settled = settledEnd(nowMs, stepMs);
  const fresh = new Map<number, { history: HistoryRows; bins: QueryResultRow[] | null }>();
  for (let x = a; x + stepMs <= settled && x < b; x += stepMs) {
    fresh.set(x, { history: { route: [], genOk: [], vouchers: [] }, bins: x >= binFrom ? [] : null });
  }
  const at = (r: QueryResultRow, key: 'bucket' | 'i') => fresh.get((r[key] as Date).getTime());
  for (const r of rows.history.route) at(r, 'bucket')?.history.route.push(r);
  for (const r of rows.history.genOk) at(r, 'bucket')?.history.genOk.push(r);
  for (const r of rows.history.vouchers) at(r, 'bucket')?.history.vouchers.push(r);
  for (const r of rows.bins) at(r, 'i')?.bins?.push(r);
  return fresh;
}

/** Adds a bucket's or a read's rows to a chart's; its latency bins when given. */
function append(out: ChartRows, history: HistoryRows, bins: QueryResultRow[] | null): void {
  out.history.route.push(...history.route);
  out.history.genOk.push(...history.genOk);
  out.history.vouchers.push(...history.vouchers);
  if (bins) out.bins.push(...bins);
}

export class ChartRowCache {
  private buckets = new Map<number, Bucket>();
  private queue: Promise<unknown> = Promise.resolve();

  /** store: the persisted buckets, or null (a rehearsal: no rollout schema). */
  constructor(
    private readonly plan: Plan,
    private readonly store: BucketStore | null = null,
  ) {}

  /** Rows for buckets [startMs, endMs] (end instant included), latency bins from latencyFrom. */
  read(pool: pg.Pool, startMs: number, endMs: number, stepMs: number, latencyFrom: number, nowMs: number): Promise<ChartRows> {
    const run = this.queue.then(() => this.readNow(pool, startMs, endMs, stepMs, latencyFrom, nowMs));
    this.queue = run.catch(() => {});
    return run;
  }

  private async readNow(
    pool: pg.Pool,
    startMs: number,
    endMs: number,
    stepMs: number,
    latencyFrom: number,
    nowMs: number,
  ): Promise<ChartRows> {
    for (const [b, x] of this.buckets)
      if (b < nowMs - KEEP_MS || x.fetchedAt < nowMs - MAX_AGE_MS || x.fetchedAt > nowMs) this.buckets.delete(b);
    const binFrom = Math.floor(latencyFrom / stepMs) * stepMs;
    const usable = (b: number) => {
      const x = this.buckets.get(b);
      return !!x && (b < binFrom || x.bins !== null);
    };
    // The unsettled buckets are held nowhere (neither here nor persisted): read raw at once,
    // beside the look-up of the rest; their read includes the end instant (the last window's end).
    const tailFrom = Math.max(startMs, Math.min(endMs, settledEnd(nowMs, stepMs)));
    const tail = this.readRaw(pool, tailFrom, endMs, true, stepMs, binFrom, nowMs);
    tail.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
    const missing = () => {
      const out: number[] = [];
      for (let b = startMs; b < tailFrom; b += stepMs) if (!usable(b)) out.push(b);
      return out;
    };
    let gaps = missing();
    if (gaps.length && this.store) {
      // Persisted buckets are read under the same rule as this cache's own (read at most MAX_AGE ago).
      const stored = await this.store(gaps[0], gaps[gaps.length - 1] + stepMs, nowMs - MAX_AGE_MS, nowMs);
      for (const [b, x] of stored) if (!usable(b)) this.buckets.set(b, { history: x.history, bins: x.bins, fetchedAt: x.readAt });
      gaps = missing();
    }

    const out: ChartRows = { history: { route: [], genOk: [], vouchers: [] }, bins: [], rawSpans: [] };
    for (let b = startMs; b < tailFrom; b += stepMs) {
      if (!usable(b)) continue;
      const x = this.buckets.get(b)!;
      append(out, x.history, b >= binFrom ? x.bins : null);
    }

    // The settled buckets held nowhere, read raw in runs of adjacent ones, then the tail.
    const spans: [number, number][] = [];
    for (const b of gaps) {
      const last = spans[spans.length - 1];
      if (last && last[1] === b) last[1] = b + stepMs;
      else spans.push([b, b + stepMs]);
    }
    const reads = [...spans.map(([a, b]) => this.readRaw(pool, a, b, false, stepMs, binFrom, nowMs)), tail];
    for (const [i, rows] of (await Promise.all(reads)).entries()) {
      append(out, rows.history, rows.bins);
      out.rawSpans.push(spans[i] ?? [tailFrom, endMs]);
    }
    return out;
  }

  /** One raw read of [a, b] (one read for both the sums and the latency bins: chart-queries.ts); keeps its settled buckets. */
  private async readRaw(
    pool: pg.Pool,
    a: number,
    b: number,
    inclusive: boolean,
    stepMs: number,
    binFrom: number,
    nowMs: number,
  ): Promise<ChartRangeRows> {
    const rows = await fetchChartRows(pool, this.plan, 0, stepMs, a, b, binFrom, inclusive);
    for (const [x, fresh] of settledBuckets(rows, a, b, stepMs, binFrom, nowMs)) this.buckets.set(x, { ...fresh, fetchedAt: nowMs });
    return rows;
  }
}
