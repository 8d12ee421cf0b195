import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { inject } from 'vitest';
import { openDatabase, postgresPool, type Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { pglitePool } from '../../src/db/pglite.ts';
import { BOT_ROLE, withUser } from './global-setup.ts';
import { templateReady } from './pglite-template.ts';

export const dbKind = (): 'pglite' | 'postgres' => (process.env.TEST_DB_KIND === 'postgres' ? 'postgres' : 'pglite');

/**
 * Every table a test writes, emptied between tests and between the files a PGlite is lent to: all
 * of the migrations' tables but rollout.migrations (test-database.test.ts checks none is missing).
 */
export const RESET_TABLES = [
  'rollout.chart_buckets',
  'rollout.replicas',
  'rollout.outages',
  'rollout.home_viewers',
  'public.feature_flags',
  'public.analytics_logs',
  'rollout.slack_messages',
  'rollout.chart_jobs',
  'rollout.audit',
  'rollout.outbox',
  'rollout.reports',
  'rollout.guard_state',
  'rollout.requests',
  'rollout.runs',
];

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
  const scratch = await lendScratch();
  const db = await openDatabase({ databaseUrl: scratch.url });
  const app = postgresPool(scratch.ownerUrl, 'rollout-tests', 4);
  // A copy lent before is emptied; a new one is the template's copy, whose schema giveBackScratch compares with.
  if (scratch.schema) await truncate(app);
  else scratch.schema = await schemaOf(app);
  let closed = false;
  return {
    ...db,
    app,
    testUrl: scratch.url,
    ownerUrl: scratch.ownerUrl,
    reset: () => truncate(app),
    async close() {
      if (closed) return;
      closed = true;
      await db.close();
      await giveBackScratch(scratch, app);
    },
  };
}

/** A file that opens a second database (a standby) keeps both; more idle than that is memory for nothing. */
const MAX_IDLE = 2;

type Scratch = Awaited<ReturnType<typeof createScratchDatabase>> & { schema?: string };

/**
 * Real Postgres' counterpart of lend(): the scratch databases this worker made and no file holds
 * now. A worker thread runs file after file (isolate: false), and a copy of the template and its
 * drop cost the server about a quarter of a CPU-second per file. Sessions never carry over: the
 * pools that used one are ended before it is lent again (advisory locks, settings and open
 * transactions go with them). Those idle when the run ends are dropped by global-setup.ts.
 */
const idleScratch: Scratch[] = ((globalThis as Record<symbol, unknown>)[Symbol.for('rollout.test.scratch')] ??= []) as Scratch[];

async function lendScratch(): Promise<Scratch> {
  return idleScratch.pop() ?? (await createScratchDatabase());
}

/** Kept for the next file if its schema is still the template's; dropped otherwise. */
async function giveBackScratch(scratch: Scratch, app: pg.Pool): Promise<void> {
  const schema = await schemaOf(app).catch(() => null);
  await app.end();
  if (schema === scratch.schema && idleScratch.length < MAX_IDLE) idleScratch.push(scratch);
  else await scratch.drop();
}

const schemaOf = (pool: pg.Pool) => fingerprint((sql) => pool.query(sql), { roles: false });

/**
 * In memory, loaded from the run's migrated template (test/support/pglite-template.ts) when the
 * project made one: the same database as a fresh PGlite migrated here, without initdb and the
 * migrations per file. Loading one costs about a second of CPU, so a worker lends the same
 * PGlite to its test files in turn (see lend()): each file still starts from the template's state.
 */
async function openPgliteTestDatabase(): Promise<Database> {
  const template = process.env.VITEST ? inject('pgliteTemplate') : undefined;
  if (!template) {
    const db = await openDatabase({ dataDir: null });
    await migrate(db.pool, { createAnalyticsIndex: true });
    return db;
  }
  const lite = await lend(template);
  const pool = await pglitePool(lite);
  let closed = false;
  return {
    kind: 'pglite',
    pool,
    metricsPool: pool,
    lite,
    url: null,
    description: 'embedded Postgres (PGlite) in memory, from the test template',
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
      await giveBack(template, lite);
    },
  };
}

interface Lent {
  lite: PGlite;
  /** The template's schema (fingerprint()), to see whether a file left it as it found it. */
  schema: string;
}

/**
 * PGlites this worker loaded and no file holds now, per template; on globalThis so that it
 * outlives the module when the project re-imports it per file.
 */
const idle: Map<string, Lent[]> = ((globalThis as Record<symbol, unknown>)[Symbol.for('rollout.test.pglite')] ??= new Map()) as Map<
  string,
  Lent[]
>;
const schemas = new WeakMap<PGlite, string>();
/** An idle PGlite in the template's state (its tables emptied, sequences restarted), or a new one loaded from the template. */
async function lend(template: string): Promise<PGlite> {
  const spare = idle.get(template)?.pop();
  if (spare) {
    await truncate(spare.lite);
    schemas.set(spare.lite, spare.schema);
    return spare.lite;
  }
  const { PGlite } = await import('@electric-sql/pglite');
  await templateReady(template);
  const lite = await PGlite.create({
    loadDataDir: new TemplateBytes(templateBytes(template)),
    // Postgres zeroes its shared buffers at start: 128 MB (the template's postgresql.conf) was
    // half the CPU of a start; a test file's data fits in far less, and PGlite's pages live in
    // memory either way.
    startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'],
  });
  schemas.set(lite, await fingerprint((sql) => lite.query(sql), { roles: true }));
  return lite;
}

const templates = new Map<string, ArrayBuffer>();

/** The template's bytes, read once per worker. */
function templateBytes(template: string): ArrayBuffer {
  let bytes = templates.get(template);
  if (!bytes) {
    const file = readFileSync(template);
    bytes = file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer;
    templates.set(template, bytes);
  }
  return bytes;
}

/**
 * The tarball as PGlite reads it (`arrayBuffer()`, then untar), without the copies a Blob of it
 * makes: Node's Blob hands out its 41 MB in chunks and concatenates them, ~0.4 s of CPU a load.
 * PGlite copies the files out of it, so one buffer serves every load.
 */
class TemplateBytes extends Blob {
  constructor(private readonly tarball: ArrayBuffer) {
    super([]);
  }
  override arrayBuffer(): Promise<ArrayBuffer> {
    return Promise.resolve(this.tarball);
  }
}

/**
 * Back to the worker once the file is done with it: its session reset (an open transaction rolled
 * back, settings, prepared statements, advisory locks and temporary tables dropped: DISCARD ALL),
 * and kept only if its schema is still the template's. A file that changed the schema and did
 * not undo it (a partitioned analytics_logs, a dropped schema) closes it instead.
 */
async function giveBack(template: string, lite: PGlite): Promise<void> {
  const schema = schemas.get(lite)!;
  const spares = idle.get(template) ?? [];
  idle.set(template, spares);
  const reusable =
    !lite.closed &&
    spares.length < MAX_IDLE &&
    (await (async () => {
      if (lite.isInTransaction()) await lite.exec('ROLLBACK');
      await lite.exec('DISCARD ALL');
      return (await fingerprint((sql) => lite.query(sql), { roles: true })) === schema;
    })().catch(() => false));
  if (reusable) spares.push({ lite, schema });
  else if (!lite.closed) await lite.close();
}

/**
 * Every object outside the system schemas, with its columns, and the migrations applied; and the
 * roles on PGlite, where they belong to the database (on a server they are shared with every
 * other file running, and a real-postgres file adds one for a while).
 */
async function fingerprint(query: (sql: string) => Promise<{ rows: unknown[] }>, { roles }: { roles: boolean }): Promise<string> {
  const { rows } = (await query(`
    WITH ns AS (
      SELECT oid, nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%'
    )
    SELECT md5(string_agg(x, E'\\n' ORDER BY x)) AS f FROM (
      SELECT 'schema ' || nspname AS x FROM ns
      UNION ALL SELECT 'rel ' || c.oid::regclass || ' ' || c.relkind::text || ' ' || c.relispartition::text FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
      UNION ALL SELECT 'col ' || a.attrelid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN ns ON ns.oid = c.relnamespace WHERE a.attnum > 0 AND NOT a.attisdropped
      UNION ALL SELECT 'index ' || i.indexrelid::regclass || ' ' || i.indisvalid::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN ns ON ns.oid = c.relnamespace
      UNION ALL SELECT 'constraint ' || conrelid::regclass || ' ' || conname FROM pg_constraint JOIN ns ON ns.oid = connamespace
      UNION ALL SELECT 'trigger ' || tgrelid::regclass || ' ' || tgname FROM pg_trigger WHERE NOT tgisinternal
      UNION ALL SELECT 'function ' || p.oid::regprocedure FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
      ${roles ? `UNION ALL SELECT 'role ' || rolname FROM pg_roles` : ''}
      UNION ALL SELECT 'migration ' || name FROM rollout.migrations
    ) objects`)) as { rows: { f: string }[] };
  return rows[0].f;
}

async function truncate(db: { query(sql: string): Promise<unknown> }): Promise<void> {
  await db.query(`TRUNCATE ${RESET_TABLES.join(', ')} RESTART IDENTITY CASCADE`);
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
