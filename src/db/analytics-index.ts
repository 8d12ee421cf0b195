import { readFileSync } from 'node:fs';
import type pg from 'pg';

/*
 * The (event_type, created_at) index on analytics_logs, which keeps every guard read proportional
 * to its window. What to run comes from sql/analytics-index.psql, the same file a DBA runs with
 * psql: one query that returns the statements taking the index from where it is to valid (plain
 * table: CREATE INDEX CONCURRENTLY; partitioned: ON ONLY the parent, CONCURRENTLY on each
 * partition, ATTACH), and none once it is valid. Writes are never blocked: the only statements
 * that take a lock writes wait for (ON ONLY, ATTACH) are catalog-only, and run under a short
 * lock_timeout, retried, so they never queue writes behind a long transaction.
 */

const SCRIPT = readFileSync(new URL('../../sql/analytics-index.psql', import.meta.url), 'utf8');
const START = 'SELECT statement FROM (';

/** The file's query: from its SELECT to the first psql command after it. */
const INDEX_STEPS_SQL = (() => {
  const from = SCRIPT.indexOf(START);
  const to = SCRIPT.indexOf('\n\\', from);
  if (from < 0 || to < 0) throw new Error('sql/analytics-index.psql: its query was not found');
  return SCRIPT.slice(from, to);
})();

/** A valid index on analytics_logs (the parent, when partitioned) leading with (event_type, created_at), whatever its name. */
const VALID_SQL = `
SELECT EXISTS (
  SELECT 1 FROM pg_index i
  WHERE i.indrelid = to_regclass('analytics_logs') AND i.indisvalid
    AND (SELECT array_agg(a.attname::text ORDER BY k.ord)
           FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          WHERE k.ord <= 2) = ARRAY['event_type', 'created_at']) AS valid`;

const TABLE_SQL = `
SELECT c.relkind::text AS kind, pg_get_userbyid(c.relowner) AS owner, current_user AS role,
       CASE c.relkind WHEN 'p' THEN (SELECT count(*) FROM pg_partition_tree(c.oid) t WHERE t.isleaf) ELSE 1 END::int AS leaves,
       (SELECT bool_and(pg_has_role(current_user, x.relowner, 'USAGE'))
          FROM (SELECT relid FROM pg_partition_tree(c.oid) UNION SELECT c.oid) t JOIN pg_class x ON x.oid = t.relid) AS can_build
FROM pg_class c WHERE c.oid = to_regclass('analytics_logs')`;

type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

export interface AnalyticsIndexState {
  /** null: there is no analytics_logs on the search_path. */
  table: 'plain' | 'partitioned' | null;
  /** Leaf partitions (1 for a plain table). */
  partitions: number;
  valid: boolean;
  /** The table's owner, the role connected, and whether it owns (or is a member of the owner of) every partition. */
  owner: string;
  role: string;
  canBuild: boolean;
  /** What would make it valid, in order (none when it is). */
  statements: string[];
}

export async function indexSteps(q: Queryable): Promise<string[]> {
  return (await q.query<{ statement: string }>(INDEX_STEPS_SQL)).rows.map((r) => r.statement);
}

async function isIndexValid(q: Queryable): Promise<boolean> {
  return (await q.query<{ valid: boolean }>(VALID_SQL)).rows[0].valid;
}

export async function analyticsIndexState(q: Queryable): Promise<AnalyticsIndexState> {
  const { rows } = await q.query(TABLE_SQL);
  const t = rows[0];
  const valid = await isIndexValid(q);
  return {
    table: !t ? null : t.kind === 'p' ? 'partitioned' : 'plain',
    partitions: t?.leaves ?? 0,
    valid,
    owner: t?.owner ?? '',
    role: t?.role ?? '',
    canBuild: t?.can_build === true,
    statements: valid || !t ? [] : await indexSteps(q),
  };
}

/** "analytics_logs (partitioned, 9 partitions)" */
export function describeTable(s: AnalyticsIndexState): string {
  return s.table === 'partitioned' ? `analytics_logs (partitioned, ${s.partitions} partitions)` : 'analytics_logs';
}

const OWNER_COMMAND = 'psql "$OWNER_DATABASE_URL" -v ON_ERROR_STOP=1 -f sql/analytics-index.psql';

/** The index is missing and this role cannot build it: what to do, with the exact statements. */
export function cannotBuildMessage(s: AnalyticsIndexState): string {
  return (
    `the analytics index (event_type, created_at) is missing on ${describeTable(s)}, and the bot's role ${s.role} cannot build it: ` +
    `only the table's owner (${s.owner}) can. Have the owner run \`${OWNER_COMMAND}\` (or sql/roles.sql, which includes it), ` +
    'or the statements below with psql, then start again; or set ROLLOUT_CREATE_INDEX=false to start without it ' +
    `(every guard read then scans ${s.table === 'partitioned' ? 'whole partitions' : 'the whole table'}).\n${s.statements.join('\n')}`
  );
}

/** The index is missing and ROLLOUT_CREATE_INDEX=false: one log line with the exact statements for the DBA. */
export function missingMessage(s: AnalyticsIndexState): string {
  return (
    `analytics index: missing on ${describeTable(s)} and ROLLOUT_CREATE_INDEX=false, so every guard read scans ` +
    `${s.table === 'partitioned' ? 'whole partitions' : 'the whole table'}. Have the table's owner run \`${OWNER_COMMAND}\`, or these ` +
    `statements with psql: ${s.statements.join(' ')}`
  );
}

export class IndexBuildError extends Error {}

/** A brief lock that writes wait for: give up after this, and try again. */
export const LOCK_TIMEOUT_MS = 2_000;
const LOCK_TRIES = 30;
const LOCK_PAUSE_MS = 1_000;
/** Passes of the query: a partition created while the first ran leaves the parent's index invalid; the next pass attaches it. */
const PASSES = 3;

const takesWriteLock = (s: string) => /^(CREATE INDEX IF NOT EXISTS \S+ ON ONLY |ALTER INDEX )/.test(s);

/**
 * Runs the statements until the index is valid. Holds no snapshot between statements: a
 * CONCURRENTLY build waits for every older snapshot, including its own session's. A partition
 * dropped meanwhile (pg_partman's retention) is no error: the next pass no longer lists it.
 */
export async function buildAnalyticsIndex(client: pg.PoolClient, log: (msg: string) => void): Promise<void> {
  for (let pass = 1; pass <= PASSES; pass++) {
    const statements = await indexSteps(client);
    if (!statements.length) break;
    for (const [i, statement] of statements.entries()) {
      log(`analytics index (${i + 1} of ${statements.length}): ${statement}`);
      try {
        await runStep(client, statement);
      } catch (err) {
        if ((err as { code?: string }).code === '42P01') break; // undefined_table: a partition went away
        throw buildError(statement, err);
      }
    }
  }
  if (!(await isIndexValid(client))) {
    throw new IndexBuildError(
      `the analytics index on analytics_logs is still not valid after ${PASSES} passes: some partition cannot take it ` +
        '(a foreign table?), or partitions keep appearing. See what is missing with ' +
        '`psql "$DATABASE_URL" -At -v print=1 -f sql/analytics-index.psql`, or set ROLLOUT_CREATE_INDEX=false.',
    );
  }
}

function buildError(statement: string, err: unknown): IndexBuildError {
  const e = err as { message?: string; code?: string };
  const why =
    e.code === '55P03'
      ? ` in ${LOCK_TRIES} tries of ${LOCK_TIMEOUT_MS / 1000} s: a long transaction holds analytics_logs (see pg_stat_activity)`
      : '';
  return new IndexBuildError(
    `building the analytics index stopped at \`${statement}\`: ${e.message}${e.code ? ` (${e.code})` : ''}${why}. ` +
      "The app's writes were never blocked, and what was built stays: the next start resumes from there. " +
      `To build it by hand instead, set ROLLOUT_CREATE_INDEX=false and have the table's owner run \`${OWNER_COMMAND}\`.`,
  );
}

async function runStep(client: pg.PoolClient, statement: string): Promise<void> {
  if (!takesWriteLock(statement)) {
    await client.query(statement);
    return;
  }
  for (let attempt = 1; ; attempt++) {
    await client.query(`SET lock_timeout = ${LOCK_TIMEOUT_MS}`);
    try {
      await client.query(statement);
      return;
    } catch (err) {
      // lock_not_available: writes in flight (or a long transaction) hold the table; let them pass.
      if ((err as { code?: string }).code !== '55P03' || attempt >= LOCK_TRIES) throw err;
    } finally {
      await client.query('RESET lock_timeout');
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_PAUSE_MS));
  }
}
