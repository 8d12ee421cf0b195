import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexSteps } from '../../src/db/analytics-index.ts';
import { openDatabase, type Database } from '../../src/db/database.ts';
import { backtest } from '../../src/engine/backtest.ts';
import { stageChart } from '../../src/engine/chart.ts';
import { guardCycle } from '../../src/engine/guard.ts';
import { HOUR, MINUTE, SECOND, TestClock } from '../support/clock.ts';
import { alice, engine, planWith } from '../support/engine.ts';
import { partitionAnalytics, type PartitionedTable } from '../support/partitions.ts';
import { feed } from '../support/traffic.ts';
import { scratchDatabase, type Scratch } from './harness.ts';

/*
 * Every query the bot runs against a partitioned analytics_logs reads only the partitions of its
 * window: the guard's per-minute reads and its 24 h baseline, status, the backtest and the stage
 * chart, run through the real engine as the bot's role, each query recorded with its parameters
 * and run again under EXPLAIN ANALYZE. The created_at bounds are parameters: Postgres prunes at
 * plan time (pg plans an unnamed statement with its values), and a generic plan prunes at run
 * time. A partition it could not prune would show as a scan; DEFAULT, which holds rows of no day,
 * must never be read.
 */

let scratch: Scratch;
let db: Database;
let table: PartitionedTable;
const recorded: { phase: string; sql: string; params: unknown[] }[] = [];
let phase = 'setup';

// 00:20 UTC: the guard's 1 h windows reach back into yesterday's partition.
const NOW = new Date('2026-11-28T00:20:00Z');

beforeAll(async () => {
  scratch = await scratchDatabase();
  table = await partitionAnalytics(scratch.pool, { today: NOW, daysBack: 5, daysAhead: 3, rowsPerDay: 20_000, defaultRows: 1_000 });
  for (const s of await indexSteps(scratch.pool)) await scratch.pool.query(s);
  db = await openDatabase({ databaseUrl: scratch.url });
  // Every statement the bot sends, with its values, as pg sends it.
  db.pool.on('connect', (client: pg.PoolClient) => {
    const query = client.query.bind(client) as (...a: unknown[]) => unknown;
    (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const [text, values] = args as [string | { text: string }, unknown];
      const sql = typeof text === 'string' ? text : text.text;
      if (/\bFROM analytics_logs\b/.test(sql)) recorded.push({ phase, sql, params: Array.isArray(values) ? values : [] });
      return query(...args);
    };
  });
});
afterAll(async () => {
  await db?.close();
  await scratch?.close();
});

const overlapping = (from: number, to: number) =>
  table.days.filter((d) => d.from.getTime() <= to && d.to.getTime() > from).map((d) => d.name);

/**
 * The partitions a query's plan scans: not those pruned at plan time, nor those pruned at run
 * time (counted in "Subplans Removed", or "(never executed)"). `generic`: the plan a prepared
 * statement gets after five runs, or under plan_cache_mode = force_generic_plan (some poolers),
 * made without the bounds' values, where only run-time pruning can help.
 */
async function scanned(sql: string, params: unknown[], generic: boolean): Promise<{ partitions: string[]; plan: string }> {
  const c = await scratch.pool.connect();
  try {
    const explain = 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)';
    let rows: Record<string, string>[];
    if (generic) {
      await c.query('SET plan_cache_mode = force_generic_plan');
      await c.query(`PREPARE q AS ${sql}`);
      // EXECUTE takes literals; each is typed as the statement's parameter.
      const literal = (v: unknown) =>
        typeof v === 'number' ? String(v) : c.escapeLiteral(v instanceof Date ? v.toISOString() : String(v));
      const args = params.map(literal).join(', ');
      rows = (await c.query(`${explain} EXECUTE q${args ? `(${args})` : ''}`)).rows;
      await c.query('DEALLOCATE q');
      await c.query('RESET plan_cache_mode');
    } else {
      rows = (await c.query(`${explain} ${sql}`, params)).rows;
    }
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    const partitions = new Set<string>();
    for (const line of plan.split('\n')) {
      // A scan of a table names it and its alias ("on analytics_logs_p20261127 analytics_logs_1"); an index's name has none.
      const m = / on (analytics_logs\w*) analytics_logs(?:_\d+)?(?:\s|$)/.exec(line);
      if (m && !line.includes('(never executed)')) partitions.add(m[1]);
    }
    return { partitions: [...partitions].sort(), plan };
  } finally {
    c.release();
  }
}

describe('partition pruning of the bot reads', () => {
  it('every query against analytics_logs scans only the partitions of its window, never DEFAULT, with custom and generic plans', async () => {
    const clock = new TestClock(NOW.toISOString());
    const plan = planWith({ approvals: 0, minSamples: 20, baselineCostPerImage: null });
    const { service } = engine(db, { plan, clock });
    expect((await service.handle('d1', alice)).outcome.kind).toBe('stage_started');
    phase = 'guard';
    for (let i = 0; i < 4; i++) {
      const from = clock.now();
      await feed(scratch.pool, from, clock.advance(30 * SECOND), { perMinute: 60 }, { perMinute: 60 });
      await guardCycle(service);
    }
    phase = 'status';
    await service.handle('status', alice);
    phase = 'backtest';
    await backtest(service, 24 * HOUR);
    phase = 'chart';
    await stageChart(service);

    // How far back each may read: the guard's per-minute reads its longest window (1 h), its cost
    // baseline (one query, without buckets) 24 h; the backtest 24 h plus the longest window before
    // it, to start with full windows.
    const reach = (q: (typeof recorded)[number]) =>
      ({ guard: q.sql.includes('date_bin') ? HOUR : 24 * HOUR, status: HOUR, backtest: 25 * HOUR, chart: 24 * HOUR })[q.phase]!;
    const now = clock.now().getTime();
    const everScanned = new Set<string>();
    let runTimePruned = 0;
    for (const q of recorded) {
      const allowed = overlapping(now - reach(q) - 2 * MINUTE, now);
      for (const generic of [false, true]) {
        const { partitions, plan: text } = await scanned(q.sql, q.params, generic);
        expect(partitions.length, `${q.phase}: scans nothing?\n${text}`).toBeGreaterThan(0);
        expect(
          partitions.filter((p) => !allowed.includes(p)),
          `${q.phase}${generic ? ' (generic plan)' : ''} scans ${partitions}; its window: ${allowed}\n${text}`,
        ).toEqual([]);
        for (const p of partitions) everScanned.add(p);
        if (generic && /Subplans Removed: [1-9]/.test(text)) runTimePruned++;
      }
    }
    expect([...new Set(recorded.map((q) => q.phase))].sort()).toEqual(['backtest', 'chart', 'guard', 'status']);
    // Of the 9 days and DEFAULT, only those the backtest's 25 h touch were ever read (3).
    expect(table.leaves).toHaveLength(10);
    expect([...everScanned].sort()).toEqual(overlapping(now - 25 * HOUR - 2 * MINUTE, now));
    expect(everScanned.size).toBe(3);
    // Generic plans prune too, at run time (the bounds are parameters, not now()).
    expect(runTimePruned).toBeGreaterThan(0);
  });
});
