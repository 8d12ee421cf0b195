import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));
/** Serialises replicas that start at once; any constant unique to this bot will do. */
const MIGRATION_LOCK = 7_406_211_001;

export interface MigrationOptions {
  /** false: skip the analytics index (a DBA creates it, or the table is tiny). */
  createAnalyticsIndex: boolean;
  /** Told once when another replica is migrating and this one waits for it. */
  onWait?: () => void;
}

const LOCK_POLL_MS = 200;

/**
 * Waits for the migration lock without ever blocking inside a statement. A replica blocked in
 * pg_advisory_lock holds a snapshot, and CREATE INDEX CONCURRENTLY in the replica holding the lock
 * waits for every older snapshot to end: each waits for the other, and Postgres kills one
 * (deadlock detected, 40P01). Polling pg_try_advisory_lock holds no snapshot between tries.
 */
async function takeMigrationLock(client: pg.PoolClient, onWait?: () => void): Promise<void> {
  for (let told = false; ; ) {
    const { rows } = await client.query('SELECT pg_try_advisory_lock($1) AS ok', [MIGRATION_LOCK]);
    if (rows[0].ok === true) return;
    if (!told) onWait?.();
    told = true;
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

interface Migration {
  name: string;
  sql: string;
  transactional: boolean;
  /** Tables whose presence makes the file unnecessary (the app's own tables). */
  skipIfExists: string[];
}

/** Splits a SQL script into statements, keeping $$-quoted bodies whole (CONCURRENTLY must run alone). */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let current = '';
  let inDollar = false;
  for (const line of sql.split('\n')) {
    if (!inDollar && /^\s*--/.test(line)) continue;
    current += `${line}\n`;
    if ((line.match(/\$\$/g) ?? []).length % 2 === 1) inDollar = !inDollar;
    if (!inDollar && /;\s*$/.test(line)) {
      out.push(current.trim());
      current = '';
    }
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

export const readSqlFile = (name: string) => readFileSync(SQL_DIR + name, 'utf8');

function migrationFiles(): Migration[] {
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
    // The bot's pool caps statements at 10 s; building an index on a big live table takes longer,
    // and a cancelled CONCURRENTLY build leaves an invalid index behind.
    await client.query('SET statement_timeout = 0');
    await takeMigrationLock(client, options.onWait);
    // CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema exists;
    // a least-privilege role (sql/roles.sql) owns an existing schema and has no such right.
    const { rows: schema } = await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'rollout'`);
    if (!schema.length) await client.query('CREATE SCHEMA rollout');
    await client.query(
      'CREATE TABLE IF NOT EXISTS rollout.migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set((await client.query<{ name: string }>('SELECT name FROM rollout.migrations')).rows.map((r) => r.name));
    for (const m of migrationFiles()) {
      if (done.has(m.name)) continue;
      if (m.name.includes('analytics_index')) {
        if (!options.createAnalyticsIndex) continue;
        // A DBA may have built it already (sql/roles.sql does, as the table owner the bot is not).
        if (await hasAnalyticsIndex(client)) {
          await client.query('INSERT INTO rollout.migrations (name) VALUES ($1) ON CONFLICT DO NOTHING', [m.name]);
          continue;
        }
      }
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
    await client.query('RESET statement_timeout').catch(() => {});
    client.release();
  }
  return applied;
}

/**
 * Why this database cannot serve this version of the bot without migrating first, or null. For
 * the break-glass CLI, which never migrates: as the least-privilege role it could not build an
 * index, and as the owner it would wait behind one. The analytics index is not required (a DBA
 * may own it, or ROLLOUT_CREATE_INDEX=false).
 */
export async function schemaProblem(pool: Pick<pg.Pool, 'query'>): Promise<string | null> {
  const { rows: schema } = await pool.query(`SELECT to_regclass('rollout.migrations') IS NOT NULL AS ok`);
  if (!schema[0].ok) return 'the database has no rollout schema yet';
  const done = new Set((await pool.query<{ name: string }>('SELECT name FROM rollout.migrations')).rows.map((r) => r.name));
  const missing = migrationFiles()
    .filter((m) => !m.name.includes('analytics_index') && !done.has(m.name))
    .map((m) => m.name);
  return missing.length ? `the rollout schema is older than this version (missing ${missing.join(', ')})` : null;
}

async function allExist(client: pg.PoolClient, tables: string[]): Promise<boolean> {
  const { rows } = await client.query<{ n: number }>('SELECT count(to_regclass(t))::int AS n FROM unnest($1::text[]) AS t', [tables]);
  return rows[0].n === tables.length;
}

/** Any valid index on analytics_logs leading with (event_type, created_at), whatever its name. */
async function hasAnalyticsIndex(client: pg.PoolClient): Promise<boolean> {
  const { rows } = await client.query(
    `SELECT 1 FROM pg_index i
      WHERE i.indrelid = to_regclass('analytics_logs') AND i.indisvalid
        AND (SELECT array_agg(a.attname ORDER BY k.ord)
               FROM unnest(i.indkey[0:1]) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) = ARRAY['event_type', 'created_at']::name[]`,
  );
  return rows.length > 0;
}

/** A CONCURRENTLY build that was interrupted leaves an INVALID index that IF NOT EXISTS would keep forever. */
async function dropInvalidIndexes(client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE NOT i.indisvalid AND c.relname = 'analytics_logs_event_type_created_at_idx'`,
  );
  for (const r of rows) await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${r.name}`);
}
