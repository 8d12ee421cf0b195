import type { QueryResultRow } from 'pg';
import type { Queryable } from '../db/database.ts';

/**
 * rollout.slack_messages: where each message the bot may edit or thread under lives (channel,
 * ts), and what the next edit needs. Keys: 'request:<id>', 'checklist:<run>:<stage>',
 * 'rollback:<run>', 'event:<outbox id>', 'episode:<run>:<red line>' (a breach episode's parent).
 */
export interface SlackMessageRow<S = Record<string, unknown>> {
  key: string;
  channel: string;
  ts: string;
  runId: number | null;
  state: S;
}

export const keys = {
  request: (id: number) => `request:${id}`,
  checklist: (runId: number, stage: string) => `checklist:${runId}:${stage}`,
  rollback: (runId: number) => `rollback:${runId}`,
  event: (outboxId: number) => `event:${outboxId}`,
  episode: (runId: number, line: string) => `episode:${runId}:${line}`,
};

// The state column is whatever the writer of that key stored: the caller names its type.
const toRow = <S>(r: QueryResultRow): SlackMessageRow<S> => ({ key: r.key, channel: r.channel, ts: r.ts, runId: r.run_id, state: r.state });

export async function getMessage<S>(q: Queryable, key: string): Promise<SlackMessageRow<S> | null> {
  const { rows } = await q.query('SELECT * FROM rollout.slack_messages WHERE key = $1', [key]);
  return rows[0] ? toRow<S>(rows[0]) : null;
}

/** Messages of a run whose key starts with a prefix, oldest first (checklists of a run). */
export async function runMessages<S>(q: Queryable, runId: number, prefix: string): Promise<SlackMessageRow<S>[]> {
  const { rows } = await q.query('SELECT * FROM rollout.slack_messages WHERE run_id = $1 AND key LIKE $2 ORDER BY created_at, key', [
    runId,
    `${prefix}%`,
  ]);
  return rows.map((r) => toRow<S>(r));
}

export async function saveMessage(q: Queryable, row: SlackMessageRow<unknown>, at: Date): Promise<void> {
  await q.query(
    `INSERT INTO rollout.slack_messages (key, channel, ts, run_id, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)
     ON CONFLICT (key) DO UPDATE SET channel = EXCLUDED.channel, ts = EXCLUDED.ts, state = EXCLUDED.state, updated_at = EXCLUDED.updated_at`,
    [row.key, row.channel, row.ts, row.runId, JSON.stringify(row.state), at],
  );
}

export async function saveState(q: Queryable, key: string, state: unknown, at: Date): Promise<void> {
  await q.query('UPDATE rollout.slack_messages SET state = $2, updated_at = $3 WHERE key = $1', [key, JSON.stringify(state), at]);
}
