/*
 * The seed's five monitoring queries, verbatim from the runbook (rollout-plan.en.md), with one
 * substitution: NOW() is replaced by $1::timestamptz, pinned to the last instant of the
 * generated data, so every run sees the same full window however long the bench has been
 * running. Nothing else changes: no upper bound on created_at, the same casts, the same
 * GROUP BY, the voucher query still scans every event type of the last hour.
 */
const pin = (sql: string) => sql.replace(/NOW\(\)/g, '$1::timestamptz');

export const SEED_QUERIES: { name: string; label: string; sql: string }[] = [
  {
    name: 'p95',
    label: 'p95 latency, 5 min',
    sql: pin(`SELECT event_data->>'provider' as provider,
  PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY (event_data->>'latency_ms')::numeric) as p95_latency_ms
FROM analytics_logs
WHERE event_type = 'gen_route' AND created_at >= NOW() - INTERVAL '5 minutes'
GROUP BY event_data->>'provider'`),
  },
  {
    name: 'failure',
    label: 'failure rate, 5 min',
    sql: pin(`SELECT event_data->>'provider' as provider,
  COUNT(*) FILTER (WHERE event_data->>'error' IS NOT NULL) * 100.0 / COUNT(*) as failure_rate_percent
FROM analytics_logs
WHERE event_type = 'gen_route' AND created_at >= NOW() - INTERVAL '5 minutes'
GROUP BY event_data->>'provider'`),
  },
  {
    name: 'cost',
    label: 'cost per image, 1 h',
    sql: pin(`SELECT event_data->>'provider' as provider,
  AVG((event_data->>'cost_per_image')::numeric) as avg_cost_per_image
FROM analytics_logs
WHERE event_type = 'gen_route' AND created_at >= NOW() - INTERVAL '1 hour'
  AND event_data->>'cost_per_image' IS NOT NULL
GROUP BY event_data->>'provider'`),
  },
  {
    name: 'voucher',
    label: 'regenerate-voucher rate, 1 h',
    sql: pin(`SELECT COUNT(*) FILTER (WHERE event_type = 'voucher_issued' AND event_data->>'reason' = 'regenerate') * 100.0 /
       COUNT(*) FILTER (WHERE event_type = 'gen_ok') as regenerate_voucher_rate_percent
FROM analytics_logs
WHERE created_at >= NOW() - INTERVAL '1 hour'`),
  },
  {
    name: 'split',
    label: 'traffic split, 10 min',
    sql: pin(`SELECT event_data->>'provider' as provider, COUNT(*) as request_count,
  COUNT(*) * 100.0 / SUM(COUNT(*)) OVER () as percentage
FROM analytics_logs
WHERE event_type = 'gen_route' AND created_at >= NOW() - INTERVAL '10 minutes'
GROUP BY event_data->>'provider' ORDER BY provider`),
  },
];
