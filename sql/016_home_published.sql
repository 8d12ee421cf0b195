-- When each person's Home tab was last published (by any replica): the leader refreshes the Home
-- tab of recent viewers while a stage runs, at most once a minute per person.
ALTER TABLE rollout.home_viewers ADD COLUMN IF NOT EXISTS published_at timestamptz;
