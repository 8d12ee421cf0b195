import type pg from 'pg';
import * as store from '../db/store.ts';
import { backoffMs, type Backoff } from '../core/backoff.ts';
import { DeliveryError, type EventSink } from './ports.ts';

/** A failed delivery is retried after 1 s, 2 s, 4 s… up to a minute, unless the service said when. */
const OUTBOX_BACKOFF: Backoff = { minMs: 1_000, maxMs: 60_000 };

export interface OutboxResult {
  delivered: number;
  /** The row that stopped the queue, when one did. */
  blocked: { id: number; error: string; retryAt: Date } | null;
}

/**
 * Delivers undelivered events strictly in id order. A failure stops the queue (later events
 * must not overtake it) and schedules a retry; a row is marked delivered only after the sink
 * took it. Only the leader calls this, so one process delivers.
 */
export async function deliverOutbox(
  pool: pg.Pool,
  sink: EventSink,
  now: () => Date,
  opts: { batch?: number; mayDeliver?: () => Promise<boolean> } = {},
): Promise<OutboxResult> {
  let delivered = 0;
  let allowed = false;
  for (;;) {
    const rows = await store.undeliveredEvents(pool, opts.batch ?? 50);
    if (!rows.length) return { delivered, blocked: null };
    // Asked once per call, and only when there is something to deliver (the leader proves its lock).
    if (!allowed && opts.mayDeliver && !(await opts.mayDeliver())) return { delivered, blocked: null };
    allowed = true;
    for (const row of rows) {
      if (row.nextAttemptAt && row.nextAttemptAt.getTime() > now().getTime()) {
        return { delivered, blocked: { id: row.id, error: 'waiting to retry', retryAt: row.nextAttemptAt } };
      }
      try {
        await sink.deliver(row.payload, { id: row.id, createdAt: row.createdAt });
      } catch (err) {
        const retryAfter =
          err instanceof DeliveryError && err.retryAfterMs !== null ? err.retryAfterMs : backoffMs(row.attempts + 1, OUTBOX_BACKOFF);
        const retryAt = new Date(now().getTime() + retryAfter);
        const error = (err as Error).message.slice(0, 500);
        await store.eventFailed(pool, row.id, error, retryAt);
        return { delivered, blocked: { id: row.id, error, retryAt } };
      }
      await store.eventDelivered(pool, row.id, now());
      delivered++;
    }
  }
}
