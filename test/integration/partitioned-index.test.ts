import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexSteps } from '../../src/db/analytics-index.ts';
import { migrate } from '../../src/db/migrate.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { leafIndexes, parentIndex, partitionAnalytics, type PartitionedTable } from '../support/partitions.ts';

// The analytics index on a partitioned analytics_logs, on PGlite (Postgres 18 in WASM, one
// session) and on real Postgres; processes, live traffic and interrupted builds are in
// test/real-postgres/partitioned.test.ts. Migrated as the tables' owner (db.app), who can build it.
let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());

const DAY = 86_400_000;
const today = new Date('2026-11-28T10:00:00Z');

async function partitioned(): Promise<PartitionedTable> {
  return partitionAnalytics(db.app, { today, daysBack: 3, daysAhead: 2, rowsPerDay: 2_000, defaultRows: 50, subPartitionOldest: true });
}

function logs() {
  const lines: { level: 'info' | 'warn'; msg: string }[] = [];
  return {
    lines,
    log: { info: (msg: string) => lines.push({ level: 'info', msg }), warn: (msg: string) => lines.push({ level: 'warn', msg }) },
  };
}

const everyLeafAttached = async (t: PartitionedTable) => {
  const parent = await parentIndex(db.app);
  expect(parent).toEqual({ index: 'analytics_logs_event_type_created_at_idx', valid: true });
  const leaves = await leafIndexes(db.app);
  expect(leaves.map((l) => l.leaf).sort()).toEqual([...t.leaves].sort());
  for (const l of leaves) expect(l).toMatchObject({ valid: true, parent: expect.stringMatching(/_event_type_created_at_idx$/) });
};

describe('the analytics index on a partitioned analytics_logs', () => {
  it('is built ON ONLY the parent, CONCURRENTLY on every partition (sub-partitions and DEFAULT too) and attached; a partition made later has it at creation', async () => {
    const t = await partitioned();
    const { lines, log } = logs();
    expect(await migrate(db.app, { createAnalyticsIndex: true, log })).toEqual(['003_analytics_index.sql']);
    await everyLeafAttached(t);
    // The steps, in Postgres's documented order: the parent's index first, then each partition's, built and attached.
    const steps = lines
      .filter((l) => l.msg.startsWith('analytics index ('))
      .map((l) => l.msg.replace(/^analytics index \(\d+ of \d+\): /, ''));
    expect(steps[0]).toBe(
      'CREATE INDEX IF NOT EXISTS analytics_logs_event_type_created_at_idx ON ONLY public.analytics_logs (event_type, created_at);',
    );
    expect(steps.filter((s) => s.startsWith('CREATE INDEX CONCURRENTLY'))).toHaveLength(t.leaves.length);
    expect(steps.filter((s) => / ATTACH PARTITION /.test(s))).toHaveLength(t.leaves.length + 1); // + the sub-partitioned day's own
    expect(lines.at(-1)!.msg).toMatch(
      new RegExp(`^analytics index: valid on analytics_logs \\(partitioned, ${t.leaves.length} partitions\\) after`),
    );

    // pg_partman's premake: a new day's partition, made after the index, has it (valid, attached) from its creation.
    const next = new Date(t.days.at(-1)!.to.getTime());
    await db.app.query(
      `CREATE TABLE analytics_logs_p_next PARTITION OF analytics_logs FOR VALUES FROM ('${next.toISOString()}') TO ('${new Date(next.getTime() + DAY).toISOString()}')`,
    );
    expect((await leafIndexes(db.app)).find((l) => l.leaf === 'analytics_logs_p_next')).toMatchObject({
      valid: true,
      parent: 'analytics_logs_event_type_created_at_idx',
    });
    expect(await parentIndex(db.app)).toMatchObject({ valid: true });
    // Done is done: nothing left to run, and a second start applies nothing.
    expect(await indexSteps(db.app)).toEqual([]);
    expect(await migrate(db.app, { createAnalyticsIndex: true })).toEqual([]);
  });

  it('ROLLOUT_CREATE_INDEX=false builds nothing, leaves the migration pending, and says at every start the exact statements to run', async () => {
    const t = await partitioned();
    for (let start = 0; start < 2; start++) {
      const { lines, log } = logs();
      expect(await migrate(db.app, { createAnalyticsIndex: false, log })).toEqual([]);
      expect(lines).toHaveLength(1);
      expect(lines[0].level).toBe('warn');
      expect(lines[0].msg).toContain(
        `analytics index: missing on analytics_logs (partitioned, ${t.leaves.length} partitions) and ROLLOUT_CREATE_INDEX=false`,
      );
      expect(lines[0].msg).toContain('psql "$OWNER_DATABASE_URL" -v ON_ERROR_STOP=1 -f sql/analytics-index.psql');
      for (const s of await indexSteps(db.app)) expect(lines[0].msg).toContain(s);
    }
    expect(await parentIndex(db.app)).toBeNull();
    expect(await leafIndexes(db.app)).toEqual([]);
    const { rows } = await db.app.query(`SELECT name FROM rollout.migrations WHERE name LIKE '%analytics_index%'`);
    expect(rows).toEqual([]);
    // The statements are the whole procedure: run as they are, they make it valid.
    const statements = await indexSteps(db.app);
    expect(statements).toHaveLength(1 + 2 + 2 * t.leaves.length); // the parent; the sub-partitioned day (ON ONLY, ATTACH); each leaf (build, attach)
    for (const s of statements) await db.app.query(s);
    await everyLeafAttached(t);
    // Built by someone else: the next start records it done, and applies nothing.
    expect(await migrate(db.app, { createAnalyticsIndex: false })).toEqual([]);
    expect((await db.app.query(`SELECT name FROM rollout.migrations WHERE name LIKE '%analytics_index%'`)).rows).toEqual([
      { name: '003_analytics_index.sql' },
    ]);
  });

  it("resumes a half-built index: keeps the parent's, skips attached partitions, attaches a DBA's valid index instead of building another", async () => {
    const t = await partitioned();
    const [newest, dbaDay] = [t.days.at(-1)!.name, t.days[2].name];
    await db.app.query('CREATE INDEX analytics_logs_event_type_created_at_idx ON ONLY analytics_logs (event_type, created_at)');
    await db.app.query(`CREATE INDEX CONCURRENTLY ${newest}_event_type_created_at_idx ON ${newest} (event_type, created_at)`);
    await db.app.query(`ALTER INDEX analytics_logs_event_type_created_at_idx ATTACH PARTITION ${newest}_event_type_created_at_idx`);
    await db.app.query(`CREATE INDEX CONCURRENTLY dba_built ON ${dbaDay} (event_type, created_at)`);
    const before = await leafIndexes(db.app);
    const { lines, log } = logs();
    expect(await migrate(db.app, { createAnalyticsIndex: true, log })).toEqual(['003_analytics_index.sql']);
    await everyLeafAttached(t);
    const after = await leafIndexes(db.app);
    // The same index objects where there were some: nothing rebuilt, the DBA's attached under its own name.
    expect(after.find((l) => l.leaf === newest)!.index).toBe(before.find((l) => l.leaf === newest)!.index);
    expect(after.filter((l) => l.leaf === dbaDay)).toEqual([
      { leaf: dbaDay, index: 'dba_built', valid: true, parent: 'analytics_logs_event_type_created_at_idx' },
    ]);
    const ran = lines.map((l) => l.msg).join('\n');
    expect(ran).not.toContain('ON ONLY public.analytics_logs (');
    expect(ran).not.toContain(`ON public.${newest} `);
    expect(ran).toContain('ATTACH PARTITION public.dba_built;');
    expect(ran).not.toContain(`ON public.${dbaDay} `);
  });
});
