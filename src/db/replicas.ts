import type pg from 'pg';
import type { RolloutEvent } from '../core/events.ts';
import type { OutageKey } from '../core/outage.ts';
import { enqueue } from './store.ts';
import { withTransaction, type Queryable } from './database.ts';

/** A replica as registered: where its /healthz answers (null: it serves none). */
export interface ReplicaRow {
  id: string;
  url: string | null;
}

/** Registers this replica or says it is alive; one row per replica, a few a minute. */
export async function touchReplica(q: Queryable, r: ReplicaRow & { startedAt: Date }, at: Date): Promise<void> {
  await q.query(
    `INSERT INTO rollout.replicas (id, url, started_at, last_seen) VALUES ($1, $2, $3, $4)
     ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url, last_seen = EXCLUDED.last_seen`,
    [r.id, r.url, r.startedAt, at],
  );
}

/** The replicas seen since `since` (the peers worth asking when the database goes). Stale rows go with them. */
export async function liveReplicas(q: Queryable, since: Date): Promise<ReplicaRow[]> {
  await q.query('DELETE FROM rollout.replicas WHERE last_seen < $1', [new Date(since.getTime() - 24 * 3_600_000)]);
  const { rows } = await q.query<ReplicaRow>('SELECT id, url FROM rollout.replicas WHERE last_seen >= $1 ORDER BY id', [since]);
  return rows;
}

/** A replica that stops on purpose leaves the list (best effort: a dead one ages out). */
export async function removeReplica(q: Queryable, id: string): Promise<void> {
  await q.query('DELETE FROM rollout.replicas WHERE id = $1', [id]);
}

/**
 * Records that an announced outage is over and enqueues its "back" in the same transaction: only
 * the first replica to get here inserts the row, so the channel hears "back" once whoever
 * announced it and whoever comes back first. True when this call recorded it.
 */
export async function recordOutageBack(pool: pg.Pool, key: OutageKey, at: Date, by: string): Promise<boolean> {
  return withTransaction(pool, async (client) => {
    const { rowCount } = await client.query(
      `INSERT INTO rollout.outages (announced_by, started_at, ended_at, recorded_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING`,
      [key.by, key.since, at, by],
    );
    if (!rowCount) return false;
    const event: RolloutEvent = {
      kind: 'database_back',
      since: key.since,
      at: at.toISOString(),
      outageMs: Math.max(0, at.getTime() - Date.parse(key.since)),
    };
    await enqueue(client, at, null, event);
    return true;
  });
}
