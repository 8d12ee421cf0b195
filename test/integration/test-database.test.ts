import { describe, expect, it } from 'vitest';
import { openTestDatabase, RESET_TABLES, type TestDatabase } from '../support/db.ts';

// Each test file's database starts as the migrated template, whatever the file before it did: a
// worker lends one database to its files in turn (test/support/db.ts), a PGlite or a copy of the
// template on the server.
const logRow = (db: TestDatabase) =>
  db.app.query<{ id: number }>(
    `INSERT INTO analytics_logs (event_type, event_data, created_at) VALUES ('gen_ok', '{}', now()) RETURNING id`,
  );

async function next<T>(check: (db: TestDatabase) => Promise<T>): Promise<T> {
  const db = await openTestDatabase();
  try {
    return await check(db);
  } finally {
    await db.close();
  }
}

describe('the database a test file opens', () => {
  it('is empty, with its ids from 1, after a file that wrote rows and left a transaction open', async () => {
    const before = await openTestDatabase();
    await logRow(before);
    await logRow(before);
    const client = await before.app.connect();
    await client.query('BEGIN');
    await client.query(`INSERT INTO feature_flags (flag_key, flag_value, flag_value_text) VALUES ('GEN_PROVIDER_WEIGHTS', true, '{}')`);
    client.release();
    await before.close();

    await next(async (db) => {
      expect((await db.app.query('SELECT count(*)::int AS n FROM analytics_logs')).rows[0].n).toBe(0);
      expect((await db.app.query('SELECT count(*)::int AS n FROM feature_flags')).rows[0].n).toBe(0);
      expect((await logRow(db)).rows[0].id).toBe(1);
    });
  });

  it('is emptied of every table the migrations make (a table missing from the reset would carry rows from file to file)', async () => {
    await next(async (db) => {
      const { rows } = await db.app.query<{ t: string }>(
        `SELECT schemaname || '.' || tablename AS t FROM pg_tables
         WHERE schemaname IN ('public', 'rollout') AND (schemaname, tablename) <> ('rollout', 'migrations')`,
      );
      expect(rows.map((r) => r.t).sort()).toEqual([...RESET_TABLES].sort());
    });
  });

  it('has the whole schema after a file that dropped part of it', async () => {
    const before = await openTestDatabase();
    await before.app.query('DROP SCHEMA rollout CASCADE');
    await before.close();

    await next(async (db) => {
      const { rows } = await db.app.query(
        `SELECT to_regclass('rollout.runs') IS NOT NULL AS runs, to_regclass('rollout.outbox') IS NOT NULL AS outbox`,
      );
      expect(rows[0]).toEqual({ runs: true, outbox: true });
    });
  });
});
