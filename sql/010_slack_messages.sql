-- Slack messages the bot keeps editing (approval requests, stage checklists), and the posts it
-- already made for an outbox row, so a delivery retried after a partial failure never posts twice.
CREATE TABLE IF NOT EXISTS rollout.slack_messages (
  key        text PRIMARY KEY,              -- 'request:12', 'checklist:3:d1', 'event:57'
  channel    text NOT NULL,
  ts         text NOT NULL,                 -- Slack's message id, for chat.update and thread_ts
  run_id     bigint,
  state      jsonb NOT NULL DEFAULT '{}',   -- what the next edit needs (the original request, checklist progress)
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS slack_messages_by_run ON rollout.slack_messages (run_id);
