import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { inject } from 'vitest';
import { openDatabase, postgresPool, type Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { pglitePool } from '../../src/db/pglite.ts';
import { BOT_ROLE, withUser } from './global-setup.ts';

export const dbKind = (): 'pglite' | 'postgres' => (process.env.TEST_DB_KIND === 'postgres' ? 'postgres' : 'pglite');

const TABLES =
  'rollout.chart_buckets, rollout.replicas, rollout.outages, rollout.home_viewers, public.feature_flags, public.analytics_logs, rollout.slack_messages, rollout.chart_jobs, rollout.audit, rollout.outbox, rollout.reports, rollout.guard_state, rollout.requests, rollout.runs';

export interface TestDatabase extends Database {
  /**
   * The app's side (and the test's): writes analytics_logs, edits the flag by hand, reads
   * anything. On real Postgres it is the tables' owner while the bot (`pool`) is the
   * least-privilege role of sql/roles.sql; on PGlite both are the same session.
   */
  app: pg.Pool;
  /** Empties every table between tests; much cheaper than a new database. */
  reset(): Promise<void>;
  /** Postgres only: URLs of this test's own database, as the bot's role and as the owner. */
  testUrl: string | null;
  ownerUrl: string | null;
}

/**
 * A migrated database of the kind this run uses: PGlite in memory, or on TEST_DATABASE_URL's
 * server a fresh copy of the template made by global-setup.ts, dropped afterwards.
 */
export async function openTestDatabase(): Promise<TestDatabase> {
  if (dbKind() === 'pglite') {
    const db = await openPgliteTestDatabase();
    return { ...db, app: db.pool, testUrl: null, ownerUrl: null, reset: () => truncate(db.pool) };
  }
  const scratch = await createScratchDatabase();
  const db = await openDatabase({ databaseUrl: scratch.url });
  const app = postgresPool(scratch.ownerUrl, 'rollout-tests', 4);
  return {
    ...db,
    app,
    testUrl: scratch.url,
    ownerUrl: scratch.ownerUrl,
    reset: () => truncate(app),
    async close() {
      await db.close();
      await app.end();
      await scratch.drop();
    },
  };
}

/**
 * In memory, loaded from the run's migrated template (test/support/pglite-template.ts) when the
 * project made one: the same database as a fresh PGlite migrated here, without initdb and the
 * migrations per file.
 */
async function openPgliteTestDatabase(): Promise<Database> {
  const template = process.env.VITEST ? inject('pgliteTemplate') : undefined;
  if (!template) {
    const db = await openDatabase({ dataDir: null });
    await migrate(db.pool, { createAnalyticsIndex: true });
    return db;
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const lite = await PGlite.create({ loadDataDir: new Blob([readFileSync(template)]) });
  const pool = await pglitePool(lite);
  return {
    kind: 'pglite',
    pool,
    metricsPool: pool,
    lite,
    url: null,
    description: 'embedded Postgres (PGlite) in memory, from the test template',
    async close() {
      await pool.end();
      await lite.close();
    },
  };
}

async function truncate(pool: pg.Pool): Promise<void> {
  await pool.query(`TRUNCATE ${TABLES} RESTART IDENTITY CASCADE`);
}

/** A new database copied from the run's template: `url` connects as the bot's role, `ownerUrl` as the owner. */
export async function createScratchDatabase(): Promise<{ url: string; ownerUrl: string; drop: () => Promise<void> }> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('TEST_DATABASE_URL is not set');
  const template = inject('templateDatabase');
  const name = `rollout_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = postgresPool(base, 'rollout-tests', 1);
  await createFromTemplate(admin, name, template);
  return {
    url: withUser(base, BOT_ROLE, name),
    ownerUrl: withUser(base, new URL(base).username || 'postgres', name),
    async drop() {
      await admin.end();
      // Without the bot's 10 s statement timeout: with several real-postgres files writing at once,
      // a DROP DATABASE has been seen to take longer (cancelled by that timeout in a test's cleanup).
      const c = new pg.Client({ connectionString: base, application_name: 'rollout-tests' });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Copying a template fails while anyone else is connected to it; two workers copying at once is such a case. */
async function createFromTemplate(admin: pg.Pool, name: string, template: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
      return;
    } catch (err) {
      if (attempt >= 50 || !/is being accessed by other users/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
  }
}
