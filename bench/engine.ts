import { chartPng } from '../src/adapters/chart-png.ts';
import pg from 'pg';
import defaultPlanJson from '../src/plan/default-plan.json' with { type: 'json' };
import { parsePlan, type Plan } from '../src/plan/plan.ts';
import { openDatabase, type Database } from '../src/db/database.ts';
import { migrate } from '../src/db/migrate.ts';
import { adminList } from '../src/engine/access.ts';
import { RolloutService } from '../src/engine/service.ts';
import type { Actor } from '../src/core/views.ts';

export const ADMIN: Actor = { id: 'U_BENCH', via: 'cli' };

/** The seed plan, no approvals (the bench starts stages by itself), other keys as given. */
export function benchPlan(overrides: Record<string, unknown> = {}): Plan {
  return parsePlan({ ...structuredClone(defaultPlanJson), approvals: 0, ...overrides }, 'bench plan');
}

/** A clock the bench moves by hand; the engine never reads the real time. */
export class Clock {
  constructor(public t: number) {}
  now = (): Date => new Date(this.t);
}

export function service(db: Database, plan: Plan, clock: Clock): RolloutService {
  return new RolloutService({
    db,
    plan,
    now: clock.now,
    access: adminList([ADMIN.id]),
    health: { read: async () => ({ kind: 'not_configured' }) },
    charts: chartPng,
  });
}

/** The server's URL for the bench database: same server and user as `base`, database `name`. */
export function databaseUrl(base: string, name: string): string {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Drops and creates the bench database on the server of `base`. */
export async function recreateDatabase(base: string, name: string): Promise<void> {
  const admin = new pg.Pool({ connectionString: base, max: 1 });
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
}

export async function dropDatabase(base: string, name: string): Promise<void> {
  const admin = new pg.Pool({ connectionString: base, max: 1 });
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/**
 * The bot's database (its own pools, as in production) after the bot's migrations.
 * The migrations run on a pool WITHOUT the bot's 10 s statement_timeout: on the bot's own pool,
 * CREATE INDEX CONCURRENTLY on 5 M rows here fails with "canceling statement due to statement
 * timeout" (src/db/migrate.ts must lift the timeout for -- no-transaction files; reported).
 */
export async function openBot(url: string, createAnalyticsIndex: boolean): Promise<Database> {
  const pool = benchPool(url);
  try {
    await migrate(pool, { createAnalyticsIndex });
  } finally {
    await pool.end();
  }
  return openDatabase({ databaseUrl: url, dataDir: null });
}

/** A plain session for the bench's own queries: no statement timeout, one connection. */
export const benchPool = (url: string) => {
  const pool = new pg.Pool({ connectionString: url, max: 1, application_name: 'rollout-bench', statement_timeout: 0 });
  pool.on('error', () => {});
  return pool;
};
