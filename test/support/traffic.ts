import type pg from 'pg';

export interface RouteRow {
  provider: string;
  latencyMs?: number | string | null;
  error?: string | null;
  cost?: number | string | null;
  at: Date;
}

/** Inserts gen_route rows in one statement, as the app logs them. */
export async function insertRoutes(pool: Pick<pg.Pool, 'query'>, rows: RouteRow[]): Promise<void> {
  if (!rows.length) return;
  const data = rows.map((r) => {
    const d: Record<string, unknown> = { provider: r.provider };
    if (r.latencyMs !== undefined) d.latency_ms = r.latencyMs;
    if (r.error !== undefined) d.error = r.error;
    if (r.cost !== undefined) d.cost_per_image = r.cost;
    return d;
  });
  await pool.query(
    `INSERT INTO analytics_logs (event_type, event_data, created_at)
     SELECT 'gen_route', d, t FROM unnest($1::jsonb[], $2::timestamptz[]) AS x(d, t)`,
    [data.map((d) => JSON.stringify(d)), rows.map((r) => r.at)],
  );
}

export async function insertEvents(pool: Pick<pg.Pool, 'query'>, type: string, count: number, at: Date, data: Record<string, unknown> = {}): Promise<void> {
  await pool.query(
    `INSERT INTO analytics_logs (event_type, event_data, created_at) SELECT $1, $2::jsonb, $3 FROM generate_series(1, $4)`,
    [type, JSON.stringify(data), at, count],
  );
}

/**
 * Steady traffic for one provider: `perMinute` gen_route rows each minute in (end - minutes, end],
 * with the given latency, failure share and cost; plus gen_ok for each success.
 */
export async function steadyTraffic(
  pool: Pick<pg.Pool, 'query'>,
  opts: { provider: string; end: Date; minutes: number; perMinute: number; latencyMs: number; failureShare?: number; cost?: number; genOk?: boolean },
): Promise<void> {
  const rows: RouteRow[] = [];
  const failEvery = opts.failureShare ? Math.round(1 / opts.failureShare) : 0;
  for (let m = 0; m < opts.minutes; m++) {
    for (let i = 0; i < opts.perMinute; i++) {
      const at = new Date(opts.end.getTime() - m * 60_000 - Math.floor((i * 60_000) / opts.perMinute) - 1);
      const n = m * opts.perMinute + i;
      rows.push({ provider: opts.provider, latencyMs: opts.latencyMs, error: failEvery && n % failEvery === 0 ? 'timeout' : null, cost: opts.cost, at });
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
