import type { QueryResultRow } from 'pg';
import type pg from 'pg';
import type { Plan } from '../plan/plan.ts';
import type { HistoryRows } from './history-queries.ts';
import { fetchChartRows } from './chart-queries.ts';

/*
 * The leader draws a chart of the stage so far at every report (every 15 min by default) and at
 * every alert: the same hours again and again. This keeps each bucket's grouped rows (history
 * sums and latency bins, as the queries return them) once the bucket has settled, so a chart
 * reads only what is new since the last one: about 15 minutes of rows instead of hours.
 *
 * A bucket is kept once it ended SETTLE (2 min) before the read, and reused for MAX_AGE (4 h, so
 * a 3 h stage is re-read whole at most once): a row logged more than 2 minutes late can be missing
 * from a chart for up to that long (the guard's own numbers never come from here). Buckets are aligned to the epoch in steps of the
 * plan's bucket, which every chart's series also is.
 */

const SETTLE_MS = 2 * 60_000;
const MAX_AGE_MS = 4 * 3_600_000;
/** Nothing older than this is ever charted (the chart command's limit, plus the 1 h windows). */
const KEEP_MS = 25 * 3_600_000;

interface Bucket {
  history: HistoryRows;
  /** Latency bins, or null when the bucket was read without them (before the p95 span). */
  bins: QueryResultRow[] | null;
  fetchedAt: number;
}

export interface ChartRows {
  history: HistoryRows;
  bins: QueryResultRow[];
  /** Where the read started: the rest came from the cache. */
  readFrom: number;
}

export class ChartRowCache {
  private buckets = new Map<number, Bucket>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly plan: Plan) {}

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
    let readFrom = startMs;
    while (readFrom < endMs && usable(readFrom)) readFrom += stepMs;

    // One read of the span's rows for both the sums and the latency bins (chart-queries.ts).
    const { history, bins } =
      readFrom <= endMs
        ? await fetchChartRows(pool, this.plan, 0, stepMs, readFrom, endMs, binFrom)
        : { history: { route: [], genOk: [], vouchers: [] }, bins: [] };

    // Keep every settled bucket just read, empty ones too (an empty bucket is an answer).
    const settled = Math.floor((nowMs - SETTLE_MS) / stepMs) * stepMs;
    const fresh = new Map<number, Bucket>();
    for (let b = readFrom; b + stepMs <= settled && b < endMs; b += stepMs) {
      fresh.set(b, { history: { route: [], genOk: [], vouchers: [] }, bins: b >= binFrom ? [] : null, fetchedAt: nowMs });
    }
    const at = (r: QueryResultRow, key: 'bucket' | 'i') => fresh.get((r[key] as Date).getTime());
    for (const r of history.route) at(r, 'bucket')?.history.route.push(r);
    for (const r of history.genOk) at(r, 'bucket')?.history.genOk.push(r);
    for (const r of history.vouchers) at(r, 'bucket')?.history.vouchers.push(r);
    for (const r of bins) at(r, 'i')?.bins?.push(r);
    for (const [b, x] of fresh) this.buckets.set(b, x);

    const out: ChartRows = { history: { route: [], genOk: [], vouchers: [] }, bins: [], readFrom };
    for (let b = startMs; b < readFrom; b += stepMs) {
      const x = this.buckets.get(b)!;
      out.history.route.push(...x.history.route);
      out.history.genOk.push(...x.history.genOk);
      out.history.vouchers.push(...x.history.vouchers);
      if (b >= binFrom) out.bins.push(...x.bins!);
    }
    out.history.route.push(...history.route);
    out.history.genOk.push(...history.genOk);
    out.history.vouchers.push(...history.vouchers);
    out.bins.push(...bins);
    return out;
  }
}
