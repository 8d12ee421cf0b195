-- skip-if-exists: public.feature_flags public.analytics_logs
-- The generation app's own tables, with the seed's columns. In production they already exist
-- (Supabase): IF NOT EXISTS leaves them untouched. The bot never alters them.
CREATE TABLE IF NOT EXISTS feature_flags (
  flag_key        text UNIQUE NOT NULL,
  flag_value      boolean NOT NULL DEFAULT false,
  flag_value_text text,
  description     text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS analytics_logs (
  id         bigserial PRIMARY KEY,
  event_type text NOT NULL,
  event_data jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
