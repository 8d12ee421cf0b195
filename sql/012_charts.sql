-- Charts posted in Slack after the text they illustrate (stage reports, alerts, backtests).
-- A queue of its own, next to the outbox: a chart that cannot be uploaded is retried with backoff
-- but never holds back a message. The file id is recorded with the upload, so a retried job
-- never shares the same chart twice.
CREATE TABLE IF NOT EXISTS rollout.chart_jobs (
  id              bigserial PRIMARY KEY,
  key             text NOT NULL UNIQUE,        -- 'event:57' (the outbox row it illustrates), 'backtest:<root ts>'
  channel         text NOT NULL,
  thread_ts       text NOT NULL,               -- the message the chart is threaded under
  request         jsonb NOT NULL,              -- what to draw (engine/event-charts.ts ChartRequest)
  created_at      timestamptz NOT NULL,
  attempts        integer NOT NULL DEFAULT 0,
  last_error      text,
  next_attempt_at timestamptz,
  file_id         text,                        -- Slack's file id once shared
  done_at         timestamptz,                 -- shared, or given up (file_id null)
  bytes           integer
);
CREATE INDEX IF NOT EXISTS chart_jobs_pending ON rollout.chart_jobs (id) WHERE done_at IS NULL;
