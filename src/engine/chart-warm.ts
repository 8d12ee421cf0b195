import { bucketMs } from '../core/backtest.ts';
import { fetchChartRows } from '../db/chart-queries.ts';
import { KEEP_MS, MAX_AGE_MS, settledBuckets, settledEnd } from '../db/chart-cache.ts';
import { bucketsToRead, pruneBuckets, saveBuckets, storeKey, type StoredBucket } from '../db/chart-store.ts';
import type { EngineDeps, EngineRef } from './deps.ts';

/*
 * The leader's chart buckets (db/chart-store.ts): a loop beside the guard (never in its cycle)
 * reads each bucket once it has settled and persists its grouped rows, so any chart (the
 * leader's reports, the `chart` command in a new process) reads persisted buckets plus only the
 * unsettled minutes raw. The same rule as the in-process cache (db/chart-cache.ts): a bucket is
 * read once it ended 2 min ago, used while read less than 4 h ago, so this reads it again between
 * 3 and 4 h (a row logged late shows within 4 h); buckets older than the longest chart are dropped.
 */

/** Kept persisted: the longest chart (24 h of stage plus the 1 h windows). */
const SPAN_MS = KEEP_MS;
/**
 * A bucket is read again once read this long ago, before charts stop using it (MAX_AGE): the
 * hour between spreads the re-reads of a backfill (all read at once) over many passes.
 */
const REFRESH_MS = MAX_AGE_MS - 3_600_000;
/** Missing buckets read per pass at most, newest first: a start's backfill spreads over passes (the default 3 h chart's 4 h come first). */
const PASS_MS = 4 * 3_600_000;
/** Aging buckets read again per pass at most: 25 h of them take 50 passes (25 min at 30 s), well inside the hour. */
const REFRESH_PASS_MS = 30 * 60_000;
/** Each raw read at most this long: no statement runs long on the metrics database. */
const READ_MS = 3_600_000;

/** Per engine: the settled end its last pass left nothing behind at (a pass before the next bucket settles has nothing new). */
const done = new WeakMap<EngineDeps, { key: string; settled: number }>();

/** One pass: reads the missing or aging settled buckets (newest first, up to PASS_MS), prunes the old. */
export async function warmChartBuckets(engine: EngineRef): Promise<{ buckets: number; pending: boolean }> {
  const { plan, db } = engine.deps;
  if (engine.deps.rehearsal) return { buckets: 0, pending: false };
  const step = bucketMs(plan);
  const now = engine.deps.now().getTime();
  const key = storeKey(plan, step);
  const to = settledEnd(now, step);
  // Evaluations come more often than buckets settle: until the next one has, nothing is new
  // (a bucket aging past REFRESH waits for it too, at most one step more).
  const last = done.get(engine.deps);
  if (last?.key === key && last.settled === to) return { buckets: 0, pending: false };
  const from = to - Math.floor(SPAN_MS / step) * step;
  const { missing, aging } = await bucketsToRead(db.pool, key, from, to, step, now - REFRESH_MS, now);
  const [newBudget, oldBudget] = [Math.floor(PASS_MS / step), Math.floor(REFRESH_PASS_MS / step)];
  const pending = missing.length > newBudget || aging.length > oldBudget;
  const toRead = [...missing.slice(0, newBudget), ...aging.slice(0, oldBudget)].sort((a, b) => b - a);

  // Runs of adjacent buckets, newest first, cut into reads of at most READ_MS.
  const reads: [number, number][] = [];
  for (const b of toRead) {
    const run = reads[reads.length - 1];
    if (run && run[0] === b + step && run[1] - b <= READ_MS) run[0] = b;
    else reads.push([b, b + step]);
  }
  let buckets = 0;
  for (const [a, b] of reads) {
    const rows = await fetchChartRows(db.metricsPool, plan, 0, step, a, b, a, false);
    const stored = new Map<number, StoredBucket>();
    for (const [x, bucket] of settledBuckets(rows, a, b, step, a, now))
      stored.set(x, { history: bucket.history, bins: bucket.bins ?? [], readAt: now });
    await saveBuckets(db.pool, key, stored);
    buckets += stored.size;
  }
  if (buckets) await pruneBuckets(db.pool, now - KEEP_MS);
  if (!pending) done.set(engine.deps, { key, settled: to });
  return { buckets, pending };
}
