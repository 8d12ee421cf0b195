-- Replicas and the outages they announced (src/engine/outage-watch.ts). Each replica registers
-- itself and the URL of its /healthz, so that when it loses the database it can ask the others
-- (over HTTP, since the database is what is gone) whether they still reach it. An announced
-- outage's "back" is recorded here once, by whichever replica reaches the database first:
-- the primary key is the announcement, and the outbox event commits with the row.
CREATE TABLE IF NOT EXISTS rollout.replicas (
  id text PRIMARY KEY,
  url text,
  started_at timestamptz NOT NULL,
  last_seen timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS rollout.outages (
  announced_by text NOT NULL,
  started_at timestamptz NOT NULL,
  ended_at timestamptz NOT NULL,
  recorded_by text NOT NULL,
  PRIMARY KEY (announced_by, started_at)
);
