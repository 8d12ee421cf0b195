import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import {
  analyticsIndexState,
  buildAnalyticsIndex,
  cannotBuildMessage,
  describeTable,
  IndexBuildError,
  missingMessage,
} from './analytics-index.ts';

const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));
/** Serialises replicas that start at once; any constant unique to this bot will do. */
const MIGRATION_LOCK = 7_406_211_001;

export interface MigrationOptions {
  /** false: skip the analytics index (a DBA creates it, or the table is tiny); a warning says what to run while it is missing. */
  createAnalyticsIndex: boolean;
  /** Told once when another replica is migrating and this one waits for it. */
  onWait?: () => void;
  /** Progress of the analytics index build, and the warning when it is missing. */
  log?: { info(msg: string): void; warn(msg: string): void };
}

/** Why the bot cannot start on this database, and what to do: the message is the whole story. */
export class MigrationError extends Error {}

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
  /** Tables whose presence makes the file unnecessary (the app's own tables). */
  skipIfExists: string[];
}

/**
 * Splits a SQL script into statements, keeping $$-quoted bodies whole. psql's own commands
 * (roles.sql ends with `\ir analytics-index.psql`) are not SQL and are left out: whoever runs a
 * script this way builds the analytics index itself (buildAnalyticsIndex), or runs it with psql.
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let current = '';
  let inDollar = false;
  for (const line of sql.split('\n')) {
    if (!inDollar && /^\s*(--|\\)/.test(line)) continue;
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
      return { name, sql, skipIfExists: skip ? skip[1].trim().split(/\s+/) : [] };
    });
}

/** Applies what is missing; safe to run twice and from several replicas at once. */
export async function migrate(pool: pg.Pool, options: MigrationOptions): Promise<string[]> {
  const client = await pool.connect();
  const applied: string[] = [];
  const record = (name: string) => client.query('INSERT INTO rollout.migrations (name) VALUES ($1) ON CONFLICT DO NOTHING', [name]);
  try {
    // The bot's pool caps statements at 10 s; building an index on a big live table takes longer,
    // and a cancelled CONCURRENTLY build leaves an invalid index behind.
    await client.query('SET statement_timeout = 0');
    await takeMigrationLock(client, options.onWait);
    await ownSchema(client);
    const done = new Set((await client.query<{ name: string }>('SELECT name FROM rollout.migrations')).rows.map((r) => r.name));
    for (const m of migrationFiles()) {
      if (done.has(m.name)) continue;
      if (m.name.includes('analytics_index')) {
        const index = await analyticsIndex(client, options);
        if (index !== 'missing') await record(m.name);
        if (index === 'built') applied.push(m.name);
        continue;
      }
      if (m.skipIfExists.length && (await allExist(client, m.skipIfExists))) {
        await record(m.name);
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO rollout.migrations (name) VALUES ($1)', [m.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new MigrationError(
          `migration ${m.name} failed: ${pgError(err)}; it was rolled back whole. ${
            (err as { code?: string }).code === '42501'
              ? 'The bot\'s role lacks a right on its own schema "rollout": run sql/roles.sql as a superuser (docs/operations.md § Database role)'
              : 'Fix the cause'
          }, then start again.`,
        );
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

const pgError = (err: unknown) => {
  const e = err as { message?: string; code?: string };
  return `${e?.message ?? String(err)}${e?.code ? ` (${e.code})` : ''}`;
};

/** The bot's schema and its migrations table; the one thing the bot needs a right for beyond its own schema. */
async function ownSchema(client: pg.PoolClient): Promise<void> {
  try {
    // CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema exists;
    // a least-privilege role (sql/roles.sql) owns an existing schema and has no such right.
    const { rows: schema } = await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'rollout'`);
    if (!schema.length) await client.query('CREATE SCHEMA rollout');
    await client.query(
      'CREATE TABLE IF NOT EXISTS rollout.migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
  } catch (err) {
    throw new MigrationError(
      `cannot create the bot's schema "rollout": ${pgError(err)}. The bot keeps its state in its own schema: run sql/roles.sql ` +
        'as a superuser once (it creates the schema for the role rollout_bot; docs/operations.md § Database role), or give ' +
        "the bot's role CREATE on the database.",
    );
  }
}

/**
 * Migration 003: the index the guard reads through (src/db/analytics-index.ts): built now, valid
 * already (a DBA, sql/roles.sql), or missing with ROLLOUT_CREATE_INDEX=false, which is told at
 * every start with the statements to run.
 */
async function analyticsIndex(client: pg.PoolClient, options: MigrationOptions): Promise<'built' | 'present' | 'missing'> {
  const state = await analyticsIndexState(client);
  if (state.valid) return 'present';
  if (!state.table)
    throw new MigrationError("there is no table analytics_logs on the search_path: the guard reads the app's traffic from it.");
  if (!options.createAnalyticsIndex) {
    options.log?.warn(missingMessage(state));
    return 'missing';
  }
  if (!state.canBuild) throw new MigrationError(cannotBuildMessage(state));
  const started = Date.now();
  try {
    await buildAnalyticsIndex(client, (msg) => options.log?.info(msg));
  } catch (err) {
    throw new MigrationError(err instanceof IndexBuildError ? err.message : `building the analytics index failed: ${pgError(err)}`);
  }
  options.log?.info(`analytics index: valid on ${describeTable(state)} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return 'built';
}

/** absent: the bot has never started on this database (read-only commands still work there). */
export interface SchemaProblem {
  absent: boolean;
  message: string;
}

/**
 * Why this database cannot serve this version of the bot without migrating first, or null. For
 * the break-glass CLI, which never migrates: as the least-privilege role it could not build an
 * index, and as the owner it would wait behind one. The analytics index is not required (a DBA
 * may own it, or ROLLOUT_CREATE_INDEX=false).
 */
export async function schemaProblem(pool: Pick<pg.Pool, 'query'>): Promise<SchemaProblem | null> {
  const { rows: schema } = await pool.query(`SELECT to_regclass('rollout.migrations') IS NOT NULL AS ok`);
  if (!schema[0].ok) return { absent: true, message: 'the database has no rollout schema yet' };
  const done = new Set((await pool.query<{ name: string }>('SELECT name FROM rollout.migrations')).rows.map((r) => r.name));
  const missing = migrationFiles()
    .filter((m) => !m.name.includes('analytics_index') && !done.has(m.name))
    .map((m) => m.name);
  return missing.length
    ? { absent: false, message: `the rollout schema is older than this version (missing ${missing.join(', ')})` }
    : null;
}

async function allExist(client: pg.PoolClient, tables: string[]): Promise<boolean> {
  const { rows } = await client.query<{ n: number }>('SELECT count(to_regclass(t))::int AS n FROM unnest($1::text[]) AS t', [tables]);
  return rows[0].n === tables.length;
}
