import type pg from 'pg';

/*
 * A realistic analytics_logs, generated inside Postgres (generate_series, no round trips).
 *
 * Shape, per minute of traffic:
 *   - a daily cycle: traffic peaks at 15:00 UTC and is ~4× lower at 03:00;
 *   - gen_route for both providers at the D1 weights (fal 0.9 / runware 0.1): latency
 *     log-normal (median ≈ 2.5 s, p95 ≈ 6 s) with a 0.5 % tail at 5–20×, 0.7 % errors,
 *     cost ≈ 0.005 (fal) / 0.0045 (runware) with 5 % of rows missing it, and a few odd
 *     latencies: 0.1 % numeric strings ("2500"), 0.05 % negative (-1, skipped and counted by
 *     the bot). No non-numeric text: the seed's p95 query fails outright on one such row
 *     ("invalid input syntax for type numeric"), and the bench must time it;
 *   - one gen_ok per successful route, logged when the image is done (created_at + latency);
 *   - voucher_issued: reason 'regenerate' for ~2 % of gen_ok, other reasons for ~1 %;
 *   - ~25 % unrelated events (page_view, signup, login, purchase, share).
 * Rows are written in time order, minute after minute, as an append-only log would be.
 *
 * Two shapes for the sizes (BENCH_SHAPE):
 *   - "rate" (default): the production rate is fixed (the 10 M table is exactly 7 days, ≈ 1.43 M
 *     rows a day, ≈ 1 000 rows a minute on average) and a smaller table is simply less history
 *     (1 M ≈ 17 h). The rows inside the guard's windows are the same at every size; only the
 *     table grows. This is what "grows with its windows, not with the table" is about.
 *   - "span": every size covers 7 days, so the rate (and every window) scales with the size.
 */

const AVG_EVENTS_PER_MINUTE_10M = 10_000_000 / (7 * 24 * 60); // ≈ 992
/** Events per routed request: the route, its gen_ok, ~3 % vouchers, and unrelated events (25 % of all). */
const EVENTS_PER_REQUEST = (1 + 0.993 + 0.993 * 0.03) / 0.75;
const PEAK_HOUR_UTC = 15;
const DAILY_AMPLITUDE = 0.6; // 1.6 at the peak, 0.4 at the trough

/** Relative traffic at a minute (mean 1 over a day). Same formula as in SQL below. */
function dailyFactor(at: number): number {
  const hour = (at / 3_600_000) % 24;
  return 1 + DAILY_AMPLITUDE * Math.cos((2 * Math.PI * (hour - PEAK_HOUR_UTC)) / 24);
}

export interface Shape {
  /** Data ends here (exclusive); the bench pins "now" to it. */
  end: Date;
  start: Date;
  minutes: number;
  /** Average events a minute over a whole day. */
  eventsPerMinute: number;
  weights: { fal: number; runware: number };
}

/** The minutes (ending at `end`) that hold about `rows` events, at the given average rate. */
export function shapeFor(rows: number, end: Date, mode: 'rate' | 'span', opts: { rate?: number; weights?: Shape['weights'] } = {}): Shape {
  const weights = opts.weights ?? { fal: 0.9, runware: 0.1 };
  if (mode === 'span') {
    const minutes = 7 * 24 * 60;
    return { end, start: new Date(end.getTime() - minutes * 60_000), minutes, eventsPerMinute: rows / minutes, weights };
  }
  const rate = opts.rate ?? AVG_EVENTS_PER_MINUTE_10M;
  let minutes = 0;
  let total = 0;
  while (total < rows) {
    minutes++;
    total += rate * dailyFactor(end.getTime() - minutes * 60_000);
  }
  return { end, start: new Date(end.getTime() - minutes * 60_000), minutes, eventsPerMinute: rate, weights };
}

const CREATE_TABLE_SQL = `
DROP TABLE IF EXISTS analytics_logs;
CREATE TABLE analytics_logs (
  id         bigserial PRIMARY KEY,
  event_type text NOT NULL,
  event_data jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);`;

/*
 * One INSERT … SELECT. Per minute m: n requests; each request gets its own random draws
 * (u1, u2 for Box–Muller, and uniform draws for provider, error, cost, junk, voucher).
 */
const INSERT_SQL = `
INSERT INTO analytics_logs (event_type, event_data, created_at)
SELECT e.event_type, e.event_data, e.created_at
FROM generate_series(0, $2::int - 1) AS m(i)
CROSS JOIN LATERAL (
  SELECT $1::timestamptz + m.i * interval '1 minute' AS t0,
         $3::float8 * (1 + ${DAILY_AMPLITUDE} * cos(2 * pi() * ((extract(epoch FROM $1::timestamptz + m.i * interval '1 minute') / 3600.0)::numeric % 24 - ${PEAK_HOUR_UTC}) / 24)) AS per_min
) mm
CROSS JOIN LATERAL (
  WITH req AS MATERIALIZED (
    SELECT mm.t0 + random() * interval '60 seconds' AS ts,
           CASE WHEN random() < $4::float8 THEN 'runware' ELSE 'fal' END AS provider,
           -- log-normal latency, median 2500 ms, sigma 0.53 (p95 ≈ 6 s), 0.5 % tail ×5–20
           round(exp(ln(2500) + 0.53 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))
                 * CASE WHEN random() < 0.005 THEN 5 + 15 * random() ELSE 1 END) AS latency,
           random() AS r_err, random() AS r_cost, random() AS r_junk, random() AS r_voucher,
           (random() * 2000000)::int AS user_id
    FROM generate_series(1, greatest(1, round(mm.per_min / ${EVENTS_PER_REQUEST})::int))
  ), route AS MATERIALIZED (
    SELECT ts, provider, latency, user_id, r_voucher,
           CASE WHEN r_err < 0.004 THEN 'timeout' WHEN r_err < 0.007 THEN 'provider_error: 502' END AS error,
           CASE WHEN r_cost < 0.05 THEN NULL
                WHEN provider = 'fal' THEN round((0.0048 + 0.0004 * r_cost)::numeric, 5)
                ELSE round((0.0043 + 0.0004 * r_cost)::numeric, 5) END AS cost,
           r_junk
    FROM req
  )
  SELECT 'gen_route' AS event_type,
         jsonb_strip_nulls(jsonb_build_object(
           'provider', provider,
           'latency_ms', CASE WHEN r_junk < 0.0005 THEN to_jsonb(-1)
                              WHEN r_junk < 0.0015 THEN to_jsonb(latency::text)
                              ELSE to_jsonb(latency) END,
           'error', error,
           'cost_per_image', cost,
           'user_id', user_id,
           'model', 'flux-schnell',
           'size', '1024x1024')) AS event_data,
         ts AS created_at
  FROM route
  UNION ALL
  SELECT 'gen_ok', jsonb_build_object('provider', provider, 'user_id', user_id, 'images', 1),
         ts + latency * interval '1 millisecond'
  FROM route WHERE error IS NULL
  UNION ALL
  SELECT 'voucher_issued',
         jsonb_build_object('reason', CASE WHEN r_voucher < 0.02 THEN 'regenerate' WHEN r_voucher < 0.025 THEN 'signup_bonus' ELSE 'support' END,
                            'user_id', user_id, 'amount', 1),
         ts + latency * interval '1 millisecond' + interval '20 seconds'
  FROM route WHERE error IS NULL AND r_voucher < 0.03
  UNION ALL
  SELECT (ARRAY['page_view','page_view','page_view','page_view','page_view','page_view','signup','login','login','purchase','share'])[1 + floor(random() * 11)::int],
         jsonb_build_object('path', '/p/' || (random() * 500)::int, 'user_id', (random() * 2000000)::int),
         mm.t0 + random() * interval '60 seconds'
  FROM generate_series(1, greatest(0, round(mm.per_min * 0.25)::int))
) e`;

export interface LoadResult {
  rows: number;
  seconds: number;
  tableBytes: number;
  totalBytes: number;
}

/**
 * Drops and refills analytics_logs (no index but the primary key). Everything older than
 * `freshMinutes` is loaded, then VACUUM ANALYZE; the last `freshMinutes` are appended after it
 * and only ANALYZEd, like the recent end of a busy insert-only table between autovacuum runs
 * (its pages are not all-visible, so index-only scans of the recent windows still visit the
 * heap). Autovacuum is off on the table so the state stays the same during the bench.
 */
export async function loadAnalytics(pool: pg.Pool, shape: Shape, freshMinutes: number): Promise<LoadResult> {
  const t = performance.now();
  const c = await pool.connect();
  try {
    await c.query(`SET statement_timeout = 0; SET work_mem = '256MB'; SET maintenance_work_mem = '1GB'; SET synchronous_commit = off`);
    await c.query(CREATE_TABLE_SQL);
    await c.query('ALTER TABLE analytics_logs SET (autovacuum_enabled = false)');
    await c.query('SELECT setseed(0.42)');
    const fresh = Math.min(freshMinutes, shape.minutes);
    const old = shape.minutes - fresh;
    if (old > 0) await c.query(INSERT_SQL, [shape.start, old, shape.eventsPerMinute, shape.weights.runware]);
    await c.query('VACUUM (ANALYZE) analytics_logs');
    if (fresh > 0) {
      await c.query(INSERT_SQL, [new Date(shape.start.getTime() + old * 60_000), fresh, shape.eventsPerMinute, shape.weights.runware]);
      await c.query('ANALYZE analytics_logs');
    }
    const { rows } = await c.query(
      `SELECT (SELECT count(*) FROM analytics_logs)::bigint AS n,
              pg_relation_size('analytics_logs')::bigint AS heap, pg_total_relation_size('analytics_logs')::bigint AS total`,
    );
    return {
      rows: Number(rows[0].n),
      seconds: (performance.now() - t) / 1000,
      tableBytes: Number(rows[0].heap),
      totalBytes: Number(rows[0].total),
    };
  } finally {
    c.release();
  }
}
