-- no-transaction
-- The one index the guard needs on the app's busy table: every red line reads one event type
-- over a recent window, so (event_type, created_at) turns each query into a range scan of the
-- window instead of a scan of the table. CONCURRENTLY: no write lock on a live table.
-- Opt out with ROLLOUT_CREATE_INDEX=false (e.g. when your DBA creates it).
CREATE INDEX CONCURRENTLY IF NOT EXISTS analytics_logs_event_type_created_at_idx
  ON analytics_logs (event_type, created_at);
