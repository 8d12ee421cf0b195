import type pg from 'pg';
import { dbKind } from './db.ts';

// gen_route rows as the app logs them; one implementation, shared with the demo's traffic generator.
export { insertRoutes, type RouteRow } from '../../src/demo/traffic.ts';
import { insertRoutes, type RouteRow } from '../../src/demo/traffic.ts';

export async function insertEvents(
  pool: Pick<pg.Pool, 'query'>,
  type: string,
  count: number,
  at: Date,
  data: Record<string, unknown> = {},
): Promise<void> {
  await pool.query(`INSERT INTO analytics_logs (event_type, event_data, created_at) SELECT $1, $2::jsonb, $3 FROM generate_series(1, $4)`, [
    type,
    JSON.stringify(data),
    at,
    count,
  ]);
}

/**
 * Steady traffic for one provider: `perMinute` gen_route rows each minute in (end - minutes, end],
 * with the given latency, failure share and cost; plus gen_ok for each success.
 */
export async function steadyTraffic(
  pool: Pick<pg.Pool, 'query'>,
  opts: {
    provider: string;
    end: Date;
    minutes: number;
    perMinute: number;
    latencyMs: number;
    failureShare?: number;
    cost?: number;
    genOk?: boolean;
  },
): Promise<void> {
  const rows: RouteRow[] = [];
  const failEvery = opts.failureShare ? Math.round(1 / opts.failureShare) : 0;
  for (let m = 0; m < opts.minutes; m++) {
    for (let i = 0; i < opts.perMinute; i++) {
      const at = new Date(opts.end.getTime() - m * 60_000 - Math.floor((i * 60_000) / opts.perMinute) - 1);
      const n = m * opts.perMinute + i;
      rows.push({
        provider: opts.provider,
        latencyMs: opts.latencyMs,
        error: failEvery && n % failEvery === 0 ? 'timeout' : null,
        cost: opts.cost,
        at,
      });
    }
  }
  await insertRoutes(pool, rows);
  if (opts.genOk !== false) {
    const ok = rows.filter((r) => !r.error);
    await pool.query(
      `INSERT INTO analytics_logs (event_type, event_data, created_at) SELECT 'gen_ok', jsonb_build_object('provider', $1::text), t FROM unnest($2::timestamptz[]) t`,
      [opts.provider, ok.map((r) => r.at)],
    );
  }
}

export interface Health {
  /** Candidate requests per minute. */
  perMinute: number;
  latencyMs?: number;
  failureShare?: number;
  cost?: number;
}

/**
 * Writes the candidate's and `from`'s traffic for (from, to] at an even rate: what the app would
 * have logged while the test clock moved. gen_ok for each success, so the voucher rate has a base.
 */
export async function feed(
  pool: Pick<pg.Pool, 'query'>,
  from: Date,
  to: Date,
  candidate: Health,
  baseline: Health = { perMinute: 0 },
): Promise<void> {
  const rows: RouteRow[] = [];
  const span = to.getTime() - from.getTime();
  for (const [provider, h] of [
    ['runware', candidate],
    ['fal', baseline],
  ] as const) {
    const n = Math.round((h.perMinute * span) / 60_000);
    const failEvery = h.failureShare ? Math.max(1, Math.round(1 / h.failureShare)) : 0;
    for (let i = 0; i < n; i++) {
      rows.push({
        provider,
        latencyMs: h.latencyMs ?? 1200,
        error: failEvery && i % failEvery === 0 ? 'upstream 500' : null,
        cost: h.cost ?? 0.005,
        at: new Date(to.getTime() - Math.floor((i * span) / n)),
      });
    }
  }
  await insertRoutes(pool, rows);
  const ok = rows.filter((r) => !r.error).map((r) => r.at);
  if (ok.length)
    await pool.query(
      `INSERT INTO analytics_logs (event_type, event_data, created_at) SELECT 'gen_ok', '{}'::jsonb, t FROM unnest($1::timestamptz[]) t`,
      [ok],
    );
  await analyzeAsAutovacuum(pool, rows.length + ok.length);
}

const sinceAnalyze = new WeakMap<object, number>();

/**
 * What autovacuum does for a server while its traffic grows, on PGlite, which has none: ANALYZE
 * once the rows written since the last one pass 50 + the table's size (autovacuum's 50 + 10 %,
 * less often: one ANALYZE at a size is enough for the plan, later growth the planner scales by
 * pages). Without statistics the planner reads the guard's incremental windows
 * (`id > W OR created_at > E`, rolling-windows.ts) through the whole hour on the
 * (event_type, created_at) index: the same rows out, but each evaluation re-reads the hour, so a
 * replay minute by minute grows quadratic (the flapping replay: ~25 ms a read at 90 minutes
 * instead of ~6). Only the columns the guard's plans use: event_data's statistics would cost more
 * than they save. On Postgres autovacuum does its own.
 */
async function analyzeAsAutovacuum(pool: Pick<pg.Pool, 'query'>, written: number): Promise<void> {
  if (dbKind() !== 'pglite') return;
  const pending = (sinceAnalyze.get(pool) ?? 0) + written;
  const { rows } = await pool.query<{ due: boolean }>(
    `SELECT $1::int > 50 + greatest(reltuples, 0) AS due FROM pg_class WHERE oid = 'public.analytics_logs'::regclass`,
    [pending],
  );
  if (!rows[0].due) return void sinceAnalyze.set(pool, pending);
  await pool.query('ANALYZE public.analytics_logs (id, event_type, created_at)');
  sinceAnalyze.set(pool, 0);
}
