-- Who opened the bot's Home tab and when: their Home is republished when the rollout changes,
-- for an hour after they last opened it (the publisher spaces its passes for Slack's rate tier).
CREATE TABLE IF NOT EXISTS rollout.home_viewers (
  user_id   text PRIMARY KEY,
  opened_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS home_viewers_by_opened ON rollout.home_viewers (opened_at);
