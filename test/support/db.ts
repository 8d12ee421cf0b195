import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, postgresPool, type Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';

export const dbKind = (): 'pglite' | 'postgres' => (process.env.TEST_DB_KIND === 'postgres' ? 'postgres' : 'pglite');

const TABLES = 'feature_flags, analytics_logs, rollout.audit, rollout.outbox, rollout.reports, rollout.guard_state, rollout.requests, rollout.runs';

export interface TestDatabase extends Database {
  /** Empties every table between tests; much cheaper than a new database. */
  reset(): Promise<void>;
  /** Postgres only: the URL of this test's own database. */
  testUrl: string | null;
}

/**
 * A migrated database of the kind this project runs on: PGlite in memory, or a fresh database
 * created on TEST_DATABASE_URL's server and dropped afterwards.
 */
export async function openTestDatabase(): Promise<TestDatabase> {
  if (dbKind() === 'pglite') {
    const db = await openDatabase({ dataDir: null });
    await migrate(db.pool, { createAnalyticsIndex: true });
    return { ...db, testUrl: null, reset: () => truncate(db.pool) };
  }
  const { url, drop } = await createScratchDatabase();
  const db = await openDatabase({ databaseUrl: url });
  await migrate(db.pool, { createAnalyticsIndex: true });
  return {
    ...db,
    testUrl: url,
    reset: () => truncate(db.pool),
    async close() {
      await db.close();
      await drop();
    },
  };
}

async function truncate(pool: pg.Pool): Promise<void> {
  await pool.query(`TRUNCATE ${TABLES} RESTART IDENTITY CASCADE`);
}

/** A new empty database on the TEST_DATABASE_URL server. */
export async function createScratchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('TEST_DATABASE_URL is not set');
  const name = `rollout_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = postgresPool(base, 'rollout-bot-tests', 1);
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
