import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import { openPglite, pglitePool } from './pglite.ts';

// numeric and bigint arrive as strings from pg; the bot's numbers are all well inside double range.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

export interface Database {
  kind: 'pglite' | 'postgres';
  /** The bot's state and the flag. */
  pool: pg.Pool;
  /** analytics_logs reads; a read replica when METRICS_DATABASE_URL is set. */
  metricsPool: pg.Pool;
  /** Safe to print: never contains a password. */
  description: string;
  /** Postgres URL to open extra sessions (leader lock), null on PGlite. */
  url: string | null;
  lite?: PGlite;
  close(): Promise<void>;
}

export interface DatabaseConfig {
  databaseUrl?: string;
  metricsDatabaseUrl?: string;
  /** PGlite folder; null keeps the embedded database in memory (tests, demo). */
  dataDir?: string | null;
}

const STATEMENT_TIMEOUT_MS = 10_000;
/**
 * The client's own limit on a query: the server cancels a slow statement first (57014); this one
 * ends a wait for a server that went silent (no FIN, no RST), which TCP alone would make last
 * for hours. `statement_timeout` and `query_timeout` parameters in DATABASE_URL override both.
 */
const QUERY_TIMEOUT_MS = STATEMENT_TIMEOUT_MS + 5_000;

export function postgresPool(url: string, applicationName = 'rollout-bot', max = 5): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    application_name: applicationName,
    connectionTimeoutMillis: 5_000,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
  });
  // An idle client dying (server restart, network) must not crash the bot; the next query reports it.
  pool.on('error', () => {});
  // The pool listens for a client's errors only while it is idle: one checked out for a
  // transaction (withTransaction, migrate) whose connection drops would emit 'error' with no
  // listener and kill the process. The query in flight is rejected all the same, and
  // withTransaction destroys the client, so the error has nothing left to tell.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** "postgres://user@host:5432/db" with any password removed. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return `${u.protocol}//${u.username ? `${u.username}${u.password ? ':***' : ''}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return 'postgres (unparsable DATABASE_URL)';
  }
}

export async function openDatabase(config: DatabaseConfig): Promise<Database> {
  if (config.databaseUrl) {
    const pool = postgresPool(config.databaseUrl);
    const metricsPool = config.metricsDatabaseUrl ? postgresPool(config.metricsDatabaseUrl, 'rollout-bot-metrics') : pool;
    const description = `Postgres ${redactUrl(config.databaseUrl)}${config.metricsDatabaseUrl ? ` (metrics from ${redactUrl(config.metricsDatabaseUrl)})` : ''}`;
    return {
      kind: 'postgres',
      pool,
      metricsPool,
      description,
      url: config.databaseUrl,
      async close() {
        await pool.end();
        if (metricsPool !== pool) await metricsPool.end();
      },
    };
  }
  const { lite, release } = await openPglite(config.dataDir ?? null);
  const pool = await pglitePool(lite);
  return {
    kind: 'pglite',
    pool,
    metricsPool: pool,
    lite,
    url: null,
    description: config.dataDir ? `embedded Postgres (PGlite) in ${config.dataDir}` : 'embedded Postgres (PGlite) in memory',
    async close() {
      await pool.end();
      await lite.close();
      release();
    },
  };
}

export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

/** One transaction on one client; rolls back on any error and rethrows it. */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // A connection that cannot even roll back is dead: destroy it rather than pool it.
    await client.query('ROLLBACK').catch(() => (broken = true));
    throw err;
  } finally {
    client.release(broken);
  }
}

/** Like withTransaction, with its own statement timeout (long reads that exceed the pool's cap). */
export function withStatementTimeout<T>(pool: pg.Pool, timeoutMs: number, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (client) => {
    await client.query(`SET LOCAL statement_timeout = ${Math.floor(timeoutMs)}`);
    return fn(client);
  });
}
