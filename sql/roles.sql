-- Least privilege for rollout-bot. Run once in the app's database as a superuser (on Supabase:
-- the postgres role), after the app's tables exist:
--     psql "$ADMIN_DATABASE_URL" -f sql/roles.sql
--     psql "$ADMIN_DATABASE_URL" -c "ALTER ROLE rollout_bot PASSWORD '…'"
-- then run the bot with DATABASE_URL=postgres://rollout_bot:…@host:5432/db. Safe to run again.
--
-- What the role can do, and nothing more:
--   * read analytics_logs (no other app data);
--   * read and write the one feature_flags row of the plan (GEN_PROVIDER_WEIGHTS) through the
--     view rollout.feature_flags, which its search_path puts before public.feature_flags; the
--     view's CHECK OPTION refuses any other row, and the role has no grant on the table itself;
--   * own its schema "rollout" (runs, requests, audit, guard state, outbox, reports).
-- It cannot create the analytics index on a table it does not own, so this script does, last,
-- through sql/analytics-index.psql: CONCURRENTLY on a plain table; on a partitioned one, ON ONLY
-- the parent, CONCURRENTLY on each partition, ATTACH (the app's writes are never blocked; a run
-- interrupted half-way resumes when run again). psql only (\ir and \gexec).
-- If your plan uses another flagKey, change it in the view below.

DO $$ BEGIN
  CREATE ROLE rollout_bot LOGIN;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

ALTER ROLE rollout_bot SET search_path = rollout, public;

CREATE SCHEMA IF NOT EXISTS rollout AUTHORIZATION rollout_bot;

GRANT USAGE ON SCHEMA public TO rollout_bot;

GRANT SELECT ON public.analytics_logs TO rollout_bot;

CREATE OR REPLACE VIEW rollout.feature_flags AS
  SELECT * FROM public.feature_flags WHERE flag_key = 'GEN_PROVIDER_WEIGHTS'
  WITH CHECK OPTION;

GRANT SELECT, INSERT, UPDATE ON rollout.feature_flags TO rollout_bot;

SET search_path = public;
\ir analytics-index.psql
