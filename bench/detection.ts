import type pg from 'pg';
import type { Database } from '../src/db/database.ts';
import type { RedLineName } from '../src/plan/plan.ts';
import { RED_LINES } from '../src/plan/plan.ts';
import { guardCycle } from '../src/engine/guard.ts';
import { ADMIN, benchPlan, Clock, service } from './engine.ts';
import { stats, type Stats } from './timing.ts';

/*
 * Guard detection latency, with a controlled clock and real rows.
 *
 * Each trial starts a D1 run at T0 and steps the guard every evaluateEvery (T0, T0+30 s, …),
 * as the scheduler would. At B = T0 + 30 s + U(0, 30 s) — a random offset between two
 * evaluations — it injects rows that put one red line in breach from exactly B on (a burst
 * timestamped B, which stays in the window, plus a trickle that keeps it there after the burst
 * leaves a 5 min window). The red line "has held for its `for`" at B + for. The rollback is
 * committed when the firing guardCycle returns: logical time t_fire plus that cycle's wall time.
 *
 *   detection latency = (t_fire − (B + for)) + wall time of the firing cycle
 *
 * reported as a fraction of evaluateEvery (target ≤ 1). Injected rows are deleted after each
 * trial so every trial sees the same background traffic.
 */

interface Trial {
  line: RedLineName;
  fired: RedLineName | null;
  latencyMs: number | null;
  fraction: number | null;
  cycles: number;
}

export interface DetectionResult {
  trials: Trial[];
  fraction: Stats;
  byLine: Record<string, Stats>;
  missed: number;
  wrongLine: number;
}

const ROUTE = `INSERT INTO analytics_logs (event_type, event_data, created_at)
  SELECT 'gen_route', jsonb_build_object('provider', 'runware', 'latency_ms', $2::numeric, 'cost_per_image', $3::numeric)
         || CASE WHEN $4::boolean THEN '{"error":"bench: injected failure"}'::jsonb ELSE '{}'::jsonb END, t
  FROM unnest($1::timestamptz[]) AS t`;
const VOUCHER = `INSERT INTO analytics_logs (event_type, event_data, created_at)
  SELECT 'voucher_issued', '{"reason":"regenerate","bench":true}'::jsonb, t FROM unnest($1::timestamptz[]) AS t`;

/** Timestamps: `burst` rows at B, then `perTick` rows every 5 s until `until`. */
function times(b: number, burst: number, perTick: number, until: number): Date[] {
  const out: Date[] = [];
  for (let i = 0; i < burst; i++) out.push(new Date(b));
  for (let t = b + 5_000; t <= until; t += 5_000) for (let i = 0; i < perTick; i++) out.push(new Date(t));
  return out;
}

async function inject(pool: pg.Pool, line: RedLineName, b: number, until: number): Promise<void> {
  switch (line) {
    case 'failureRatePercent':
      return void (await pool.query(ROUTE, [times(b, 40, 1, until), 2500, 0.0045, true]));
    case 'p95LatencyMs':
      return void (await pool.query(ROUTE, [times(b, 60, 1, until), 20_000, 0.0045, false]));
    case 'costPerImageRatio':
      return void (await pool.query(ROUTE, [times(b, 300, 1, until), 2500, 0.05, false]));
    case 'regenerateRatePercent':
      return void (await pool.query(VOUCHER, [times(b, 3000, 10, until)]));
  }
}

export async function detectionTrials(db: Database, dataEnd: Date, trials: number, seed = 7): Promise<DetectionResult> {
  // A known baseline, so no trial pays for (or depends on) measuring it.
  const plan = benchPlan({ baselineCostPerImage: 0.005 });
  const every = plan.evaluateEveryMs;
  let rnd = seed;
  const random = () => (rnd = (rnd * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const out: Trial[] = [];
  const { rows } = await db.pool.query('SELECT coalesce(max(id), 0)::bigint AS id FROM analytics_logs');
  const mark = rows[0].id;
  for (let i = 0; i < trials; i++) {
    const line = RED_LINES[i % RED_LINES.length];
    const forMs = plan.redLines[line].forMs;
    const t0 = dataEnd.getTime() - 15 * 60_000;
    const clock = new Clock(t0);
    const svc = service(db, plan, clock);
    const started = await svc.handle('d1', ADMIN);
    if (started.outcome.kind !== 'stage_started') throw new Error(`detection: could not start d1: ${JSON.stringify(started.outcome)}`);
    const b = t0 + every + Math.floor(random() * every);
    const heldAt = b + forMs;
    await inject(db.pool, line, b, heldAt + 3 * every);
    let trial: Trial = { line, fired: null, latencyMs: null, fraction: null, cycles: 0 };
    for (let t = t0; t <= heldAt + 3 * every; t += every) {
      clock.t = t;
      const wall = performance.now();
      const r = await guardCycle(svc);
      const cycleMs = performance.now() - wall;
      trial.cycles++;
      if (r.kind === 'rolled_back') {
        const latencyMs = t - heldAt + cycleMs;
        trial = { ...trial, fired: r.line.name, latencyMs, fraction: latencyMs / every };
        break;
      }
    }
    if (trial.fired === null) await svc.handle('rollback bench: trial missed', ADMIN);
    await db.pool.query('DELETE FROM analytics_logs WHERE id > $1', [mark]);
    out.push(trial);
  }
  const ok = out.filter((t) => t.fraction !== null);
  const byLine: Record<string, Stats> = {};
  for (const name of RED_LINES) byLine[name] = stats(ok.filter((t) => t.line === name).map((t) => t.fraction!));
  return {
    trials: out,
    fraction: stats(ok.map((t) => t.fraction!)),
    byLine,
    missed: out.filter((t) => t.fired === null).length,
    wrongLine: out.filter((t) => t.fired !== null && t.fired !== t.line).length,
  };
}
