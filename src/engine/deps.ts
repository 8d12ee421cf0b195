import type { Plan } from '../plan/plan.ts';
import type { Database } from '../db/database.ts';
import type { HealthReading } from '../core/health.ts';
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
