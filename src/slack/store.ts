import type { QueryResultRow } from 'pg';
import type { ChartRequest } from '../core/chart-requests.ts';
import type { Database, Queryable } from '../db/database.ts';

/*
 * The Slack front end's own tables, and the only file in src/slack that touches the database
 * (dependency-cruiser checks it). The engine's tables (runs, requests, audit, flag, outbox, guard
 * state) are never read here: the front end asks the engine (service.reads) instead.
 *
 * - rollout.slack_messages: where each message the bot may edit or thread under lives (channel,
 *   ts), and what the next edit needs.
 * - rollout.chart_jobs (sql/012_charts.sql): charts waiting to be drawn and shared in a thread.
 * - rollout.home_viewers (migrations 013, 016): who opened the Home tab, when, and when it was last published.
 */

/** Keys of slack_messages. */
export const keys = {
  request: (id: number) => `request:${id}`,
  checklist: (runId: number, stage: string) => `checklist:${runId}:${stage}`,
  rollback: (runId: number) => `rollback:${runId}`,
  event: (outboxId: number) => `event:${outboxId}`,
  /** A breach episode's parent. */
  episode: (runId: number, line: string) => `episode:${runId}:${line}`,
  /** A breach episode's charts (chart_jobs): its first breach's, then the whole episode's that replaces it. */
  episodeChart: (runId: number, line: string, firstBreachAt: string, which: 'first' | 'whole') =>
    `episode-chart:${runId}:${line}:${firstBreachAt}:${which}`,
};

export interface SlackMessageRow<S = Record<string, unknown>> {
  key: string;
  channel: string;
  ts: string;
  runId: number | null;
  state: S;
}

export interface ChartJob {
  id: number;
  key: string;
  channel: string;
  threadTs: string;
  request: ChartRequest;
  createdAt: Date;
  attempts: number;
}

// The state column is whatever the writer of that key stored: the caller names its type.
const toRow = <S>(r: QueryResultRow): SlackMessageRow<S> => ({ key: r.key, channel: r.channel, ts: r.ts, runId: r.run_id, state: r.state });

/** On the engine's database (its state pool), in the bot's schema. */
export const slackStore = (db: Pick<Database, 'pool'>): SlackStore => new SlackStore(db.pool);

export class SlackStore {
  constructor(private readonly q: Queryable) {}

  // ---- slack_messages ----

  async message<S>(key: string): Promise<SlackMessageRow<S> | null> {
    const { rows } = await this.q.query('SELECT * FROM rollout.slack_messages WHERE key = $1', [key]);
    return rows[0] ? toRow<S>(rows[0]) : null;
  }

  /** Messages of a run whose key starts with a prefix, oldest first (checklists of a run). */
  async runMessages<S>(runId: number, prefix: string): Promise<SlackMessageRow<S>[]> {
    const { rows } = await this.q.query('SELECT * FROM rollout.slack_messages WHERE run_id = $1 AND key LIKE $2 ORDER BY created_at, key', [
      runId,
      `${prefix}%`,
    ]);
    return rows.map((r) => toRow<S>(r));
  }

  async saveMessage(row: SlackMessageRow<unknown>, at: Date): Promise<void> {
    await this.q.query(
      `INSERT INTO rollout.slack_messages (key, channel, ts, run_id, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)
     ON CONFLICT (key) DO UPDATE SET channel = EXCLUDED.channel, ts = EXCLUDED.ts, state = EXCLUDED.state, updated_at = EXCLUDED.updated_at`,
      [row.key, row.channel, row.ts, row.runId, JSON.stringify(row.state), at],
    );
  }

  async saveState(key: string, state: unknown, at: Date): Promise<void> {
    await this.q.query('UPDATE rollout.slack_messages SET state = $2, updated_at = $3 WHERE key = $1', [key, JSON.stringify(state), at]);
  }

  // ---- chart_jobs ----

  /** Records a chart once per key (a retried delivery of its message records nothing new). */
  async recordChartJob(job: { key: string; channel: string; threadTs: string; request: ChartRequest }, at: Date): Promise<void> {
    await this.q.query(
      `INSERT INTO rollout.chart_jobs (key, channel, thread_ts, request, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING`,
      [job.key, job.channel, job.threadTs, JSON.stringify(job.request), at],
    );
  }

  /**
   * (Re)schedules a chart not shared yet: its picture and when it is due are replaced, its
   * attempts start over. A chart already shared or given up is left alone.
   */
  async scheduleChartJob(
    job: { key: string; channel: string; threadTs: string; request: ChartRequest },
    at: Date,
    dueAt: Date,
  ): Promise<void> {
    await this.q.query(
      `INSERT INTO rollout.chart_jobs (key, channel, thread_ts, request, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (key) DO UPDATE SET thread_ts = EXCLUDED.thread_ts, request = EXCLUDED.request, created_at = EXCLUDED.created_at,
         next_attempt_at = EXCLUDED.next_attempt_at, attempts = 0, last_error = NULL
       WHERE rollout.chart_jobs.done_at IS NULL`,
      [job.key, job.channel, job.threadTs, JSON.stringify(job.request), at, dueAt],
    );
  }

  /** Forgets a chart not shared yet (nothing when it was shared). */
  async cancelChartJob(key: string): Promise<void> {
    await this.q.query('DELETE FROM rollout.chart_jobs WHERE key = $1 AND done_at IS NULL', [key]);
  }

  /**
   * A chart another one replaces: not shared yet, it never will be (done, no file); shared, its
   * file id is returned for deletion. Null when there is nothing to delete.
   */
  async retireChartJob(key: string, at: Date): Promise<string | null> {
    const { rows } = await this.q.query(
      `SELECT file_id FROM rollout.chart_jobs WHERE key = $1 AND file_id IS NOT NULL AND file_id <> 'unknown'`,
      [key],
    );
    // No file id left behind: the Home tab shows the latest chart still in the channel.
    await this.q.query(
      `UPDATE rollout.chart_jobs SET done_at = COALESCE(done_at, $2), file_id = NULL, last_error = 'replaced by the chart of the whole episode'
       WHERE key = $1`,
      [key, at],
    );
    return rows[0]?.file_id ?? null;
  }

  /** Jobs not done whose retry time has come, oldest first. */
  async dueChartJobs(now: Date, limit = 10): Promise<ChartJob[]> {
    const { rows } = await this.q.query(
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

  async chartShared(id: number, fileId: string, bytes: number, at: Date): Promise<void> {
    await this.q.query(
      'UPDATE rollout.chart_jobs SET file_id = $2, bytes = $3, done_at = $4, attempts = attempts + 1, last_error = NULL WHERE id = $1',
      [id, fileId, bytes, at],
    );
  }

  async chartFailed(id: number, error: string, retryAt: Date | null, at: Date): Promise<void> {
    await this.q.query(
      'UPDATE rollout.chart_jobs SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3, done_at = CASE WHEN $3::timestamptz IS NULL THEN $4::timestamptz END WHERE id = $1',
      [id, error.slice(0, 500), retryAt, at],
    );
  }

  /**
   * The latest chart shared in the channel (reports, alerts, backtests), for the Home tab's
   * image block. Its file is in the rollout channel, so its members can see it.
   */
  async latestChart(): Promise<{ fileId: string; title: string; at: Date } | null> {
    const { rows } = await this.q.query(
      `SELECT file_id, COALESCE(request->>'title', request->>'what', 'Red lines') AS title, done_at FROM rollout.chart_jobs
      WHERE file_id IS NOT NULL AND file_id <> 'unknown' ORDER BY done_at DESC, id DESC LIMIT 1`,
    );
    return rows[0] ? { fileId: rows[0].file_id, title: rows[0].title, at: rows[0].done_at } : null;
  }

  // ---- home_viewers ----

  async recordOpened(userId: string, at: Date): Promise<void> {
    await this.q.query(
      'INSERT INTO rollout.home_viewers (user_id, opened_at) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET opened_at = EXCLUDED.opened_at',
      [userId, at],
    );
  }

  /** Their Home tab was just published (whichever replica did it). */
  async markPublished(userId: string, at: Date): Promise<void> {
    await this.q.query('UPDATE rollout.home_viewers SET published_at = $2 WHERE user_id = $1', [userId, at]);
  }

  /**
   * People who opened the Home tab since `since` and whose tab was last published at or before
   * `publishedBy` (or never), the stalest first.
   */
  async staleViewers(since: Date, publishedBy: Date, limit: number): Promise<string[]> {
    const { rows } = await this.q.query(
      `SELECT user_id FROM rollout.home_viewers
       WHERE opened_at >= $1 AND (published_at IS NULL OR published_at <= $2)
       ORDER BY published_at NULLS FIRST, user_id LIMIT $3`,
      [since, publishedBy, limit],
    );
    return rows.map((r: { user_id: string }) => r.user_id);
  }

  /** The oldest last publish among people who opened the Home tab since `since` (the epoch for one never published); null when nobody did. */
  async oldestPublish(since: Date): Promise<Date | null> {
    const { rows } = await this.q.query(
      `SELECT min(coalesce(published_at, 'epoch')) AS at FROM rollout.home_viewers WHERE opened_at >= $1`,
      [since],
    );
    return rows[0].at ?? null;
  }

  /** People who opened the Home tab since `since`, most recent first. */
  async recentViewers(since: Date, limit: number): Promise<string[]> {
    const { rows } = await this.q.query(
      'SELECT user_id FROM rollout.home_viewers WHERE opened_at >= $1 ORDER BY opened_at DESC, user_id LIMIT $2',
      [since, limit],
    );
    return rows.map((r: { user_id: string }) => r.user_id);
  }
}
