-- The bot's own state, in its own schema "rollout" (created by the migration runner, or by
-- sql/roles.sql for a least-privilege role) so it never collides with the app's tables.

-- One row per attempt from the first stage to complete or rolled_back.
CREATE TABLE IF NOT EXISTS rollout.runs (
  id               bigserial PRIMARY KEY,
  state            text NOT NULL,               -- a stage name, 'complete' or 'rolled_back'
  started_at       timestamptz NOT NULL,
  started_by       text NOT NULL,
  stage_started_at timestamptz NOT NULL,
  written_weights  jsonb NOT NULL,              -- what the bot last wrote to the flag
  baseline_cost    double precision,            -- cost per image the cost red line compares to
  baseline_note    text NOT NULL,               -- where the baseline came from, or why there is none
  ended_at         timestamptz,
  end_reason       text,
  drift_reported   text                         -- the hand-edited flag text already alerted, so it is alerted once
);

-- Stage requests waiting for approval; at most one pending at a time.
CREATE TABLE IF NOT EXISTS rollout.requests (
  id            bigserial PRIMARY KEY,
  run_id        bigint REFERENCES rollout.runs (id),   -- null when requesting the first stage from idle
  from_state    text NOT NULL,
  to_stage      text NOT NULL,
  forced        boolean NOT NULL DEFAULT false,
  requested_by  text NOT NULL,
  requested_at  timestamptz NOT NULL,
  status        text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'approved', 'rejected', 'stale', 'expired')),
  approvals     jsonb NOT NULL DEFAULT '[]',           -- [{"by": "U123", "at": "…"}]
  decided_by    text,
  decided_at    timestamptz,
  decision_note text
);
CREATE UNIQUE INDEX IF NOT EXISTS requests_one_pending ON rollout.requests ((true)) WHERE status = 'pending';

-- Who did what, when, why and with which values. Append-only.
CREATE TABLE IF NOT EXISTS rollout.audit (
  id      bigserial PRIMARY KEY,
  at      timestamptz NOT NULL,
  run_id  bigint,
  actor   text NOT NULL,      -- a Slack user ID, a local user name, or 'guard'
  via     text NOT NULL,      -- slack, console, cli, guard
  action  text NOT NULL,
  outcome text NOT NULL,      -- done, refused, alert
  detail  jsonb NOT NULL DEFAULT '{}'
);

-- The guard's breach clocks (Prometheus `for:`), one row per run, so a restart keeps them.
CREATE TABLE IF NOT EXISTS rollout.guard_state (
  run_id       bigint PRIMARY KEY REFERENCES rollout.runs (id),
  evaluated_at timestamptz NOT NULL,
  clocks       jsonb NOT NULL,
  evaluations  jsonb NOT NULL
);

-- Everything the front ends must show, written in the same transaction as the change it reports;
-- delivered in id order, marked delivered only once the front end took it.
CREATE TABLE IF NOT EXISTS rollout.outbox (
  id              bigserial PRIMARY KEY,
  created_at      timestamptz NOT NULL,
  run_id          bigint,
  kind            text NOT NULL,
  payload         jsonb NOT NULL,
  delivered_at    timestamptz,
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  last_error      text
);
CREATE INDEX IF NOT EXISTS outbox_undelivered ON rollout.outbox (id) WHERE delivered_at IS NULL;

-- Periodic reports, kept so the next one can say what changed.
CREATE TABLE IF NOT EXISTS rollout.reports (
  id       bigserial PRIMARY KEY,
  run_id   bigint NOT NULL REFERENCES rollout.runs (id),
  at       timestamptz NOT NULL,
  snapshot jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_by_run ON rollout.reports (run_id, id);
