import { bucketMs } from '../core/backtest.ts';
import { fetchChartRows } from '../db/chart-queries.ts';
import { KEEP_MS, MAX_AGE_MS, settledBuckets, settledEnd } from '../db/chart-cache.ts';
import { pruneBuckets, saveBuckets, storedReadAt, storeKey, type StoredBucket } from '../db/chart-store.ts';
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
/** Newly settled buckets are read once this much has settled: a pass a minute, not one per evaluation (or per 5 s bucket). */
const BATCH_MS = 60_000;
/** What the table holds is asked again this often (another leader may have written meanwhile). */
const RESYNC_MS = 3_600_000;
const PRUNE_EVERY_MS = 10 * 60_000;

/** Per engine: what the table holds for its key (bucket → read at), as of its last sync and its own writes since. */
interface WarmState {
  key: string;
  readAt: Map<number, number>;
  syncedAt: number;
  /** The settled end of the last pass, and whether it left buckets for the next one. */
  settled: number;
  pending: boolean;
  prunedAt: number;
}
const states = new WeakMap<EngineDeps, WarmState>();

/** One pass: reads the missing (newest first, up to PASS_MS) and aging (up to REFRESH_PASS_MS) settled buckets; prunes the old. */
export async function warmChartBuckets(engine: EngineRef): Promise<{ buckets: number; pending: boolean }> {
  const { plan, db } = engine.deps;
  if (engine.deps.rehearsal) return { buckets: 0, pending: false };
  const step = bucketMs(plan);
  const now = engine.deps.now().getTime();
  const key = storeKey(plan, step);
  const to = settledEnd(now, step);
  // From the oldest bucket charts keep (and pruning spares), so nothing read is pruned at once.
  const from = Math.ceil((now - SPAN_MS) / step) * step;
  let st = states.get(engine.deps);
  if (!st || st.key !== key || now < st.syncedAt || now - st.syncedAt >= RESYNC_MS) {
    st = {
      key,
      readAt: await storedReadAt(db.pool, key, from, to),
      syncedAt: now,
      settled: from,
      pending: true,
      prunedAt: Number.NEGATIVE_INFINITY,
    };
    states.set(engine.deps, st);
  } else if (!st.pending && to >= st.settled && to - st.settled < BATCH_MS) {
    // Evaluations come more often than a minute settles; an aging bucket waits for it too (the hour's slack covers it).
    return { buckets: 0, pending: false };
  }

  const missing: number[] = [];
  for (let b = to - step; b >= from; b -= step) if (!st.readAt.has(b)) missing.push(b);
  const aging: number[] = [];
  for (const [b, at] of st.readAt) {
    if (b < from || b >= to) st.readAt.delete(b);
    else if (at < now - REFRESH_MS || at > now) aging.push(b);
  }
  aging.sort((a, b) => b - a);
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
    for (const x of stored.keys()) st.readAt.set(x, now);
    buckets += stored.size;
  }
  if (now - st.prunedAt >= PRUNE_EVERY_MS) {
    await pruneBuckets(db.pool, now - KEEP_MS);
    st.prunedAt = now;
  }
  st.settled = to;
  st.pending = pending;
  return { buckets, pending };
}
