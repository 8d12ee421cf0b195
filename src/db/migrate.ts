import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));
/** Serialises replicas that start at once; any constant unique to this bot will do. */
const MIGRATION_LOCK = 7_406_211_001;

export interface MigrationOptions {
  /** false: skip the analytics index (a DBA creates it, or the table is tiny). */
  createAnalyticsIndex: boolean;
}

interface Migration {
  name: string;
  sql: string;
  transactional: boolean;
  /** Tables whose presence makes the file unnecessary (the app's own tables). */
  skipIfExists: string[];
}

export function migrationFiles(): Migration[] {
  return readdirSync(SQL_DIR)
    .filter((f) => /^\d{3}_.*\.sql$/.test(f))
    .sort()
    .map((name) => {
      const sql = readFileSync(SQL_DIR + name, 'utf8');
      const skip = /^-- skip-if-exists: (.+)$/m.exec(sql);
      return { name, sql, transactional: !/^-- no-transaction$/m.test(sql), skipIfExists: skip ? skip[1].trim().split(/\s+/) : [] };
    });
}

/** Applies what is missing; safe to run twice and from several replicas at once. */
export async function migrate(pool: pg.Pool, options: MigrationOptions): Promise<string[]> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS rollout;
      CREATE TABLE IF NOT EXISTS rollout.migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query<{ name: string }>('SELECT name FROM rollout.migrations')).rows.map((r) => r.name));
    for (const m of migrationFiles()) {
      if (done.has(m.name)) continue;
      if (m.name.includes('analytics_index') && !options.createAnalyticsIndex) continue;
      if (m.skipIfExists.length && (await allExist(client, m.skipIfExists))) {
        await client.query('INSERT INTO rollout.migrations (name) VALUES ($1) ON CONFLICT DO NOTHING', [m.name]);
        continue;
      }
      if (m.transactional) {
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO rollout.migrations (name) VALUES ($1)', [m.name]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new Error(`migration ${m.name} failed: ${(err as Error).message}`);
        }
      } else {
        await dropInvalidIndexes(client);
        try {
          await client.query(m.sql);
        } catch (err) {
          throw new Error(`migration ${m.name} failed: ${(err as Error).message}`);
        }
        await client.query('INSERT INTO rollout.migrations (name) VALUES ($1)', [m.name]);
      }
      applied.push(m.name);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
  return applied;
}

async function allExist(client: pg.PoolClient, tables: string[]): Promise<boolean> {
  const { rows } = await client.query<{ n: number }>('SELECT count(to_regclass(t))::int AS n FROM unnest($1::text[]) AS t', [tables]);
  return rows[0].n === tables.length;
}

/** A CONCURRENTLY build that was interrupted leaves an INVALID index that IF NOT EXISTS would keep forever. */
async function dropInvalidIndexes(client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE NOT i.indisvalid AND c.relname = 'analytics_logs_event_type_created_at_idx'`,
  );
  for (const r of rows) await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${r.name}`);
}
