import type { Plan } from '../plan/plan.ts';
import type { Database } from '../db/database.ts';
import type { ChartRenderer, HealthSource } from './ports.ts';
import { RollingWindows } from '../db/rolling-windows.ts';
import type { AccessPolicy } from './access.ts';

/** What the engine runs on: the database, plan, clock, access policy and its ports (ports.ts). Below service.ts, so the loops and readers need not import it. */
export interface EngineDeps {
  db: Database;
  plan: Plan;
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
}

/**
 * The process's one per-minute cache of the metrics (db/rolling-windows.ts), shared by the guard,
 * status, the checklist refresh and reports; one per engine (so per process and plan).
 */
const caches = new WeakMap<EngineDeps, RollingWindows>();
export function metricWindows(deps: EngineDeps): RollingWindows {
  let w = caches.get(deps);
  if (!w) caches.set(deps, (w = new RollingWindows(deps.plan)));
  return w;
}

/** Anything that carries the engine's deps (the service does): what the loops and readers take. */
export interface EngineRef {
  readonly deps: EngineDeps;
}
