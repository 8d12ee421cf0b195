import type { Plan } from '../plan/plan.ts';
import type { Database } from '../db/database.ts';
import type { HealthReading } from '../core/health.ts';
import type { ChartRenderer, HealthSource } from './ports.ts';
import { RollingWindows } from '../db/rolling-windows.ts';
import type { AccessPolicy } from './access.ts';
import type { Logger } from '../log.ts';
import type { PlanInForce } from './plan-in-force.ts';

/** What the engine runs on: the database, plan, clock, access policy and its ports (ports.ts). Below service.ts, so the loops and readers need not import it. */
export interface EngineDeps {
  db: Database;
  /** The plan in force: the run's stored plan while a run started with another is in progress, else this replica's own (plans.own). */
  readonly plan: Plan;
  /** Which plan is in force and why (plan-in-force.ts). */
  readonly plans: PlanInForce;
  now: () => Date;
  access: AccessPolicy;
  health: HealthSource;
  charts: ChartRenderer;
  /**
   * The database has no rollout schema: the bot has never started there (the CLI rehearsing on
   * production's read replica). Reads see no run, request or audit, and read only analytics_logs
   * and feature_flags; commands that would write are refused before they touch anything.
   */
  rehearsal?: boolean;
  /** Where the engine says what people running it should know (a plan that differs from the run's). */
  log?: Logger;
}

/** What a caller gives the engine: its own plan; the engine works out the plan in force. */
export type EngineInput = Omit<EngineDeps, 'plan' | 'plans'> & { plan: Plan };

/**
 * The process's one per-minute cache of the metrics (db/rolling-windows.ts), shared by the guard,
 * status, the checklist refresh and reports; one per engine and plan in force (a run that
 * follows another plan than this replica's reads its own windows).
 */
const caches = new WeakMap<EngineDeps, { plan: Plan; windows: RollingWindows }>();
export function metricWindows(deps: EngineDeps): RollingWindows {
  let c = caches.get(deps);
  if (c?.plan !== deps.plan) caches.set(deps, (c = { plan: deps.plan, windows: new RollingWindows(deps.plan) }));
  return c.windows;
}

/** Anything that carries the engine's deps (the service does): what the loops and readers take. */
export interface EngineRef {
  readonly deps: EngineDeps;
}

/**
 * The process's one reading of the app's health endpoint, shared by /metrics, status and the
 * checklist refresher: a reading is reused for one evaluation interval (by the engine's clock),
 * and readers that ask while it is being read wait for that one request. So a Prometheus scrape,
 * a status and the refresher in the same interval cost the endpoint one GET, not one each.
 */
const healthReadings = new WeakMap<EngineDeps, { at: number; reading: Promise<HealthReading> }>();
export function healthReading(deps: EngineDeps): Promise<HealthReading> {
  const now = deps.now().getTime();
  const last = healthReadings.get(deps);
  if (last && now >= last.at && now - last.at < deps.plan.evaluateEveryMs) return last.reading;
  // A source that throws anyway (it should not) is not remembered.
  const reading = deps.health.read();
  healthReadings.set(deps, { at: now, reading });
  reading.catch(() => healthReadings.get(deps)?.reading === reading && healthReadings.delete(deps));
  return reading;
}
