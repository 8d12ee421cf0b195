import { defaultPlan, parsePlan, type Plan } from '../../src/plan/plan.ts';
import defaultPlanJson from '../../src/plan/default-plan.json' with { type: 'json' };
import { chartPng } from '../../src/adapters/chart-png.ts';
import { adminList } from '../../src/engine/access.ts';
import { RolloutService } from '../../src/engine/service.ts';
import type { HealthReading } from '../../src/core/health.ts';
import type { Actor } from '../../src/core/views.ts';
import type { Database } from '../../src/db/database.ts';
import { guardCycle } from '../../src/engine/guard.ts';
import { TestClock } from './clock.ts';
import { feed } from './traffic.ts';
import type { TestDatabase } from './db.ts';

export const alice: Actor = { id: 'U_ALICE', via: 'slack' };
export const bob: Actor = { id: 'U_BOB', via: 'slack' };
export const carol: Actor = { id: 'U_CAROL', via: 'slack' };
export const mallory: Actor = { id: 'U_MALLORY', via: 'slack' };
const ADMINS = [alice.id, bob.id, carol.id];

/** The seed plan with some keys replaced. */
export function planWith(overrides: Record<string, unknown> = {}): Plan {
  if (!Object.keys(overrides).length) return defaultPlan();
  return parsePlan({ ...structuredClone(defaultPlanJson), ...overrides });
}

export function engine(
  db: Database,
  opts: { plan?: Plan; clock?: TestClock; health?: () => HealthReading; admins?: string[]; rehearsal?: boolean } = {},
) {
  const clock = opts.clock ?? new TestClock();
  const service = new RolloutService({
    db,
    plan: opts.plan ?? defaultPlan(),
    now: clock.now,
    access: adminList(opts.admins ?? ADMINS),
    health: { read: async () => (opts.health ? opts.health() : { kind: 'not_configured' }) },
    charts: chartPng,
    rehearsal: opts.rehearsal,
  });
  return { service, clock };
}

export async function flagRow(db: Database) {
  const { rows } = await db.pool.query(
    `SELECT flag_value, flag_value_text, description FROM feature_flags WHERE flag_key = 'GEN_PROVIDER_WEIGHTS'`,
  );
  return rows[0] ?? null;
}

export async function outboxKinds(db: Database): Promise<string[]> {
  const { rows } = await db.pool.query('SELECT kind FROM rollout.outbox ORDER BY id');
  return rows.map((r) => r.kind);
}

/**
 * Lets a stage soak for `ms` with healthy traffic on both providers in the guard's windows, and
 * lets the guard judge it: promotion needs red lines that had something to judge.
 */
export async function soakHealthy(db: TestDatabase, service: RolloutService, clock: TestClock, ms: number): Promise<void> {
  const start = clock.now();
  const end = clock.advance(ms);
  await feed(db.app, new Date(Math.max(start.getTime(), end.getTime() - 10 * 60_000)), end, { perMinute: 60 }, { perMinute: 60 });
  await guardCycle(service);
}
