-- Chart buckets the leader has read once they settled (src/engine/chart-warm.ts): each bucket's
-- grouped rows (the backtest's sums and the latency histogram bins) as the raw chart read returns
-- them (src/db/chart-store.ts), so a chart reads a few hundred small rows plus the unsettled
-- minutes instead of hours of analytics_logs. `key` is what the rows depend on (the plan's step,
-- providers, maxLatencyMs, maxCostPerImage, p95 threshold, the rows' definitions): a plan with
-- another key never reads them. Refreshed before they are 4 h old, pruned after 25 h. `json`,
-- not `jsonb`: the bot only ever writes and reads it whole, and json comes back as stored, with
-- no conversion of ~1 MB of text for a 4 h chart.
CREATE TABLE IF NOT EXISTS rollout.chart_buckets (
  key     text NOT NULL,
  bucket  timestamptz NOT NULL,
  rows    json NOT NULL,
  read_at timestamptz NOT NULL,
  PRIMARY KEY (key, bucket)
);
