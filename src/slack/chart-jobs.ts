import type { Queryable } from '../db/database.ts';
import type { ChartRequest } from '../core/chart-requests.ts';

/** rollout.chart_jobs (sql/012_charts.sql): charts waiting to be drawn and shared in a thread. */
export interface ChartJob {
  id: number;
  key: string;
  channel: string;
  threadTs: string;
  request: ChartRequest;
  createdAt: Date;
  attempts: number;
}

/** Records a chart once per key (a retried delivery of its message records nothing new). */
export async function recordChartJob(
  q: Queryable,
  job: { key: string; channel: string; threadTs: string; request: ChartRequest },
  at: Date,
): Promise<void> {
  await q.query(
    `INSERT INTO rollout.chart_jobs (key, channel, thread_ts, request, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING`,
    [job.key, job.channel, job.threadTs, JSON.stringify(job.request), at],
  );
}

/** Jobs not done whose retry time has come, oldest first. */
export async function dueChartJobs(q: Queryable, now: Date, limit = 10): Promise<ChartJob[]> {
  const { rows } = await q.query(
    `SELECT id, key, channel, thread_ts, request, created_at, attempts FROM rollout.chart_jobs
      WHERE done_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= $1) ORDER BY id LIMIT $2`,
    [now, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    key: r.key,
    channel: r.channel,
    threadTs: r.thread_ts,
    request: r.request,
    createdAt: r.created_at,
    attempts: r.attempts,
  }));
}

export async function chartShared(q: Queryable, id: number, fileId: string, bytes: number, at: Date): Promise<void> {
  await q.query(
    'UPDATE rollout.chart_jobs SET file_id = $2, bytes = $3, done_at = $4, attempts = attempts + 1, last_error = NULL WHERE id = $1',
    [id, fileId, bytes, at],
  );
}

export async function chartFailed(q: Queryable, id: number, error: string, retryAt: Date | null, at: Date): Promise<void> {
  await q.query(
    'UPDATE rollout.chart_jobs SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3, done_at = CASE WHEN $3::timestamptz IS NULL THEN $4::timestamptz END WHERE id = $1',
    [id, error.slice(0, 500), retryAt, at],
  );
}
