import type { QueryResultRow } from 'pg';
import type pg from 'pg';
import type { Plan } from '../plan/plan.ts';
import type { HistoryRows } from './history-queries.ts';

/*
 * The leader's persisted chart buckets (sql/018_chart_buckets.sql): each settled bucket's grouped
 * rows as the raw chart read returned them (history sums and latency bins), kept as JSON text so
 * what comes back is what the read gave, value for value: counts are JSON integers, cost sums stay
 * numeric's exact text, float8 maxima round-trip through JSON's shortest form unchanged.
 */

/** A bucket's rows, latency bins always included (the warmer reads them for every bucket). */
export interface StoredBucket {
  history: HistoryRows;
  bins: QueryResultRow[];
  readAt: number;
}

/**
 * What a bucket's rows depend on: the bucket (the plan's step), which providers are `from` and
 * `to`, the skip limits, the p95 threshold, and the rows' definitions (bump ROWS_VERSION when
 * metric-sums.ts or the histogram bins change what a row contributes).
 */
const ROWS_VERSION = 1;
export const storeKey = (plan: Plan, stepMs: number): string =>
  JSON.stringify([ROWS_VERSION, stepMs, plan.from, plan.to, plan.maxLatencyMs, plan.maxCostPerImage, plan.redLines.p95LatencyMs.threshold]);

// The bucket's start is the row's own key: kept out of the JSON, put back as the Date pg gives.
const strip = (rows: QueryResultRow[]) =>
  rows.map((r) => {
    const { bucket: _, ...rest } = r;
    return rest;
  });
// Parsed rows are this read's own: the bucket goes back in place, one Date for all of them.
const revive = (rows: QueryResultRow[], at: Date) => {
  for (const r of rows) r.bucket = at;
  return rows;
};
// A 4 h chart's buckets hold ~46 k latency bins, most of what is stored: per provider (0 `from`,
// 1 `to`) the bins in ascending order as (step from the previous bin, count) pairs, a third of
// the text of objects or (p, bin, n) triples.
const packBins = (bins: QueryResultRow[]): [number[], number[]] => {
  const packed: [number[], number[]] = [[], []];
  const sorted = [...bins].sort((a, b) => a.p - b.p || a.bin - b.bin);
  let [p, last] = [-1, 0];
  for (const r of sorted) {
    if (r.p !== p) [p, last] = [r.p, 0];
    packed[r.p as 0 | 1].push(r.bin - last, r.n);
    last = r.bin;
  }
  return packed;
};
const binRows = (packed: [number[], number[]], i: Date) => {
  const rows: QueryResultRow[] = [];
  for (const p of [0, 1]) {
    const pairs = packed[p];
    for (let k = 0, bin = 0; k < pairs.length; k += 2) {
      bin += pairs[k];
      rows.push({ i, p, bin, n: pairs[k + 1] });
    }
  }
  return rows;
};

/** Buckets in [fromMs, toMs) read at or after `freshFrom` (and not after `nowMs`). */
export async function loadBuckets(
  pool: Pick<pg.Pool, 'query'>,
  key: string,
  fromMs: number,
  toMs: number,
  freshFrom: number,
  nowMs: number,
): Promise<Map<number, StoredBucket>> {
  const { rows } = await pool.query(
    `SELECT bucket, rows, read_at FROM rollout.chart_buckets
     WHERE key = $1 AND bucket >= $2 AND bucket < $3 AND read_at >= $4 AND read_at <= $5`,
    [key, new Date(fromMs), new Date(toMs), new Date(freshFrom), new Date(nowMs)],
  );
  const out = new Map<number, StoredBucket>();
  for (const r of rows) {
    const at = r.bucket as Date;
    out.set(at.getTime(), {
      history: { route: revive(r.rows.route, at), genOk: revive(r.rows.genOk, at), vouchers: revive(r.rows.vouchers, at) },
      bins: binRows(r.rows.bins, at),
      readAt: (r.read_at as Date).getTime(),
    });
  }
  return out;
}

/** When each bucket of [fromMs, toMs) stored for this key was read (the warmer's view of the table). */
export async function storedReadAt(pool: Pick<pg.Pool, 'query'>, key: string, fromMs: number, toMs: number): Promise<Map<number, number>> {
  const { rows } = await pool.query('SELECT bucket, read_at FROM rollout.chart_buckets WHERE key = $1 AND bucket >= $2 AND bucket < $3', [
    key,
    new Date(fromMs),
    new Date(toMs),
  ]);
  return new Map(rows.map((r) => [(r.bucket as Date).getTime(), (r.read_at as Date).getTime()]));
}

/** Writes (or rewrites) buckets in one statement. */
export async function saveBuckets(pool: Pick<pg.Pool, 'query'>, key: string, buckets: Map<number, StoredBucket>): Promise<void> {
  if (!buckets.size) return;
  const starts: Date[] = [];
  const rows: string[] = [];
  const readAt: Date[] = [];
  for (const [b, x] of buckets) {
    starts.push(new Date(b));
    readAt.push(new Date(x.readAt));
    rows.push(
      JSON.stringify({
        route: strip(x.history.route),
        genOk: strip(x.history.genOk),
        vouchers: strip(x.history.vouchers),
        bins: packBins(x.bins),
      }),
    );
  }
  await pool.query(
    `INSERT INTO rollout.chart_buckets (key, bucket, rows, read_at)
     SELECT $1, b, r, t FROM unnest($2::timestamptz[], $3::json[], $4::timestamptz[]) AS u(b, r, t)
     ON CONFLICT (key, bucket) DO UPDATE SET rows = EXCLUDED.rows, read_at = EXCLUDED.read_at`,
    [key, starts, rows, readAt],
  );
}

/** Forgets buckets that start before `beforeMs`, whatever their key (a plan since changed). */
export async function pruneBuckets(pool: Pick<pg.Pool, 'query'>, beforeMs: number): Promise<number> {
  const r = await pool.query('DELETE FROM rollout.chart_buckets WHERE bucket < $1', [new Date(beforeMs)]);
  return r.rowCount ?? 0;
}
