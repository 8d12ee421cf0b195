import type { Queryable } from '../db/database.ts';

/** rollout.home_viewers (migration 013): who opened the Home tab, and when. */

export async function recordOpened(q: Queryable, userId: string, at: Date): Promise<void> {
  await q.query(
    'INSERT INTO rollout.home_viewers (user_id, opened_at) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET opened_at = EXCLUDED.opened_at',
    [userId, at],
  );
}

/** People who opened the Home tab since `since`, most recent first. */
export async function recentViewers(q: Queryable, since: Date, limit: number): Promise<string[]> {
  const { rows } = await q.query(
    'SELECT user_id FROM rollout.home_viewers WHERE opened_at >= $1 ORDER BY opened_at DESC, user_id LIMIT $2',
    [since, limit],
  );
  return rows.map((r: { user_id: string }) => r.user_id);
}

/**
 * The latest chart shared in the channel (rollout.chart_jobs, sql/012_charts.sql: reports,
 * alerts, backtests), for the Home tab's image block. Its file is in the rollout channel, so
 * its members can see it.
 */
export async function latestChart(q: Queryable): Promise<{ fileId: string; title: string; at: Date } | null> {
  const { rows } = await q.query(
    `SELECT file_id, COALESCE(request->>'title', request->>'what', 'Red lines') AS title, done_at FROM rollout.chart_jobs
      WHERE file_id IS NOT NULL AND file_id <> 'unknown' ORDER BY done_at DESC, id DESC LIMIT 1`,
  );
  return rows[0] ? { fileId: rows[0].file_id, title: rows[0].title, at: rows[0].done_at } : null;
}
