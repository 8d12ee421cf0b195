import type pg from 'pg';
import type { Weights } from '../plan/plan.ts';
import type { Fault } from './faults.ts';
import type { Random } from './random.ts';

export interface RouteRow {
  provider: string;
  latencyMs?: number | string | null;
  error?: string | null;
  cost?: number | string | null;
  at: Date;
}

/** Inserts gen_route rows in one statement, as the app logs them (shared with the tests). */
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

/** Inserts rows of one event type, each with its own data and time. */
async function insertEventRows(
  pool: Pick<pg.Pool, 'query'>,
  type: string,
  rows: { data: Record<string, unknown>; at: Date }[],
): Promise<void> {
  if (!rows.length) return;
  await pool.query(
    `INSERT INTO analytics_logs (event_type, event_data, created_at) SELECT $1, d, t FROM unnest($2::jsonb[], $3::timestamptz[]) AS x(d, t)`,
    [type, rows.map((r) => JSON.stringify(r.data)), rows.map((r) => r.at)],
  );
}

/** How a healthy provider behaves: latency (log-normal), failures, cost per image. */
interface Profile {
  medianLatencyMs: number;
  latencySigma: number;
  failureShare: number;
  cost: number;
}

export const PROFILES: Record<string, Profile> = {
  fal: { medianLatencyMs: 3_000, latencySigma: 0.28, failureShare: 0.005, cost: 0.04 },
  runware: { medianLatencyMs: 2_400, latencySigma: 0.28, failureShare: 0.004, cost: 0.036 },
};
/** Users ask for a regenerate voucher for this share of good images; a few vouchers have other reasons. */
const REGENERATE_SHARE = 0.012;
const OTHER_VOUCHER_SHARE = 0.003;
const ERRORS = ['upstream 500', 'timeout', 'upstream 503'];

export interface WriteResult {
  requests: number;
  byProvider: Record<string, number>;
}

/**
 * The generation app as the analytics table sees it: requests arrive at `ratePerSecond`
 * (Poisson), each routed by the live weights; a gen_route row per request, gen_ok per success,
 * voucher_issued when a user asks to regenerate. The fault, when active, changes Runware only.
 */
export class TrafficGenerator {
  constructor(
    private readonly rng: Random,
    private readonly ratePerSecond: number,
    private readonly providers: { from: string; to: string },
  ) {}

  async write(
    pool: Pick<pg.Pool, 'query'>,
    from: Date,
    to: Date,
    weights: Weights,
    fault: Fault | null = null,
    faultFrom: Date | null = null,
  ): Promise<WriteResult> {
    const { rng } = this;
    const span = to.getTime() - from.getTime();
    const n = rng.poisson((this.ratePerSecond * span) / 1000);
    const routes: RouteRow[] = [];
    const ok: { data: Record<string, unknown>; at: Date }[] = [];
    const vouchers: { data: Record<string, unknown>; at: Date }[] = [];
    const byProvider: Record<string, number> = { [this.providers.from]: 0, [this.providers.to]: 0 };
    const candidateShare = weights[this.providers.to] ?? 0;
    for (let i = 0; i < n; i++) {
      const at = new Date(from.getTime() + 1 + Math.floor(rng.next() * (span - 1)));
      const active = fault && (!faultFrom || at >= faultFrom) ? fault : null;
      let provider = rng.chance(candidateShare) ? this.providers.to : this.providers.from;
      if (provider === this.providers.to && active?.kind === 'no-traffic' && rng.chance(active.size / 100)) provider = this.providers.from;
      const p = PROFILES[provider] ?? PROFILES.fal;
      const faulty = provider === this.providers.to ? active : null;
      let latency = rng.logNormal(p.medianLatencyMs, p.latencySigma);
      if (faulty?.kind === 'latency') latency *= faulty.size;
      const failureShare = faulty?.kind === 'errors' ? faulty.size / 100 : p.failureShare;
      const failed = rng.chance(failureShare);
      let cost = Math.max(0.001, p.cost * (1 + 0.06 * rng.normal()));
      if (faulty?.kind === 'cost') cost *= faulty.size;
      byProvider[provider] = (byProvider[provider] ?? 0) + 1;
      routes.push({
        provider,
        latencyMs: Math.round(latency),
        error: failed ? ERRORS[Math.floor(rng.next() * ERRORS.length)] : null,
        ...(failed ? {} : { cost: Number(cost.toFixed(5)) }),
        at,
      });
      if (failed) continue;
      ok.push({ data: { provider }, at });
      const regenerate = faulty?.kind === 'vouchers' ? faulty.size / 100 : REGENERATE_SHARE;
      if (rng.chance(regenerate)) vouchers.push({ data: { provider, reason: 'regenerate' }, at });
      else if (rng.chance(OTHER_VOUCHER_SHARE)) vouchers.push({ data: { provider, reason: 'goodwill' }, at });
    }
    await insertRoutes(pool, routes);
    await insertEventRows(pool, 'gen_ok', ok);
    await insertEventRows(pool, 'voucher_issued', vouchers);
    return { requests: n, byProvider };
  }
}
