-- An event that must reach the channel once whoever writes it (a replica saying at start that its
-- plan differs from the run's: every replica with that plan says so, one message is posted).
ALTER TABLE rollout.outbox ADD COLUMN IF NOT EXISTS dedupe_key text;
CREATE UNIQUE INDEX IF NOT EXISTS outbox_once ON rollout.outbox (dedupe_key) WHERE dedupe_key IS NOT NULL;
