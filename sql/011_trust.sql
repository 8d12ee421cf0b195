-- Who typed a console or CLI command: the OS user and host the machine reported, next to any
-- name typed with it (--as, `as <user>`, ROLLOUT_USER), which nobody verified.
ALTER TABLE rollout.audit ADD COLUMN IF NOT EXISTS os_user text;
ALTER TABLE rollout.audit ADD COLUMN IF NOT EXISTS host text;
ALTER TABLE rollout.audit ADD COLUMN IF NOT EXISTS claimed text;

-- The plan a run follows, as its JSON document: the break-glass CLI acts on it, not on whatever
-- plan file is on the laptop of the person on call.
ALTER TABLE rollout.runs ADD COLUMN IF NOT EXISTS plan jsonb;

-- When the guard last tried to measure the baseline cost; an unmeasurable one is tried again
-- (every 10 min) on the traffic `from` keeps serving during the rollout.
ALTER TABLE rollout.runs ADD COLUMN IF NOT EXISTS baseline_checked_at timestamptz;
