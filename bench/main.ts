/*
 * npm run bench — what the bot costs the database, on real Postgres. It prints; it asserts nothing.
 *
 * Needs BENCH_DATABASE_URL (else TEST_DATABASE_URL): any database on the server to use; the
 * bench creates its own database BENCH_DB_NAME (default rollout_bench) next to it, drops and
 * recreates it for each size, and drops it at the end (BENCH_KEEP=1 keeps it).
 *
 * Knobs (defaults in brackets):
 *   BENCH_SIZES=1,5,10        table sizes in millions of rows
 *   BENCH_SHAPE=rate|span     rate: fixed production rate (10 M rows = 7 days), a smaller table
 *                             is less history; span: every size is 7 days  [rate]
 *   BENCH_REPEAT=30           timed runs of each fast measurement (guard, status, indexed queries)
 *   BENCH_SLOW_REPEAT=4       timed runs of each measurement without the index
 *   BENCH_FRESH_MINUTES=90    the newest minutes are loaded after VACUUM (not all-visible)
 *   BENCH_MEM_CYCLES=10000    guard cycles for the memory run (0 skips it)
 *   BENCH_TRIALS=24           detection-latency trials (0 skips them)
 *   BENCH_END=2026-11-28T15:00:00Z   last instant of the data ("now"); 15:00 UTC is the daily peak
 *   BENCH_EXPLAIN=1           print EXPLAIN (ANALYZE, BUFFERS) at the largest size (0 skips)
 *   BENCH_ACK=1               slash-command ack latency with 2 s queries (bench/ack.ts; 0 skips)
 *   BENCH_DB=1                the bot role's database time per evaluation (bench/db.ts, pg_stat_statements; 0 skips)
 *   BENCH_PROCESS=1           the bot as a service: processes, idle memory, time to /healthz, SIGTERM handover (bench/process.ts; 0 skips)
 * Quick run: BENCH_SIZES=0.2,1 BENCH_REPEAT=10 BENCH_MEM_CYCLES=1000 BENCH_TRIALS=4 npm run bench
 */
import type pg from 'pg';
import os from 'node:os';
import { guardCycle, guardWindows } from '../src/engine/guard.ts';
import { backtest } from '../src/engine/backtest.ts';
import type { RolloutService } from '../src/engine/service.ts';
import { bucketQueries } from '../src/db/rolling-windows.ts';

const floorMinute = (t: number) => Math.floor(t / 60_000) * 60_000;
import {
  readRouteWindow,
  readVoucherWindow,
  ROUTE_WINDOW_NO_P95_SQL,
  ROUTE_WINDOW_SQL,
  VOUCHER_WINDOW_SQL,
} from '../src/db/metrics-queries.ts';
import type { Database } from '../src/db/database.ts';
import { loadAnalytics, shapeFor, type Shape } from './data.ts';
import { ADMIN, benchPlan, benchPool, Clock, databaseUrl, dropDatabase, openBot, recreateDatabase, service } from './engine.ts';
import { SEED_QUERIES } from './seed-queries.ts';
import { explain } from './explain.ts';
import { log, measure, stats, type Stats } from './timing.ts';
import { detectionTrials, type DetectionResult } from './detection.ts';
import { memoryRun, type MemoryResult } from './memory.ts';
import { bytes, int, ms, ratio, table } from './report.ts';
import { ackBench, type AckResult } from './ack.ts';
import { benchSize as botDatabaseTime, median, statStatementsMissing } from './db.ts';
import { printProcess, processBench, type ProcessResult } from './process.ts';

const env = (k: string, d: string) => process.env[k] ?? d;
const base = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
if (!base) {
  console.error('npm run bench needs BENCH_DATABASE_URL or TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres).');
  process.exit(2);
}
const NAME = env('BENCH_DB_NAME', 'rollout_bench');
if (!/^[a-z_][a-z0-9_]*$/.test(NAME)) throw new Error('BENCH_DB_NAME must be a plain lower-case identifier');
const SIZES = env('BENCH_SIZES', '1,5,10')
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => n > 0);
const SHAPE = env('BENCH_SHAPE', 'rate') === 'span' ? 'span' : 'rate';
const REPEAT = Number(env('BENCH_REPEAT', '30'));
const SLOW = Number(env('BENCH_SLOW_REPEAT', '4'));
const FRESH = Number(env('BENCH_FRESH_MINUTES', '90'));
const MEM_CYCLES = Number(env('BENCH_MEM_CYCLES', '10000'));
const TRIALS = Number(env('BENCH_TRIALS', '24'));
const END = new Date(env('BENCH_END', '2026-11-28T15:00:00Z'));
const EXPLAIN = env('BENCH_EXPLAIN', '1') !== '0';
const ACK = env('BENCH_ACK', '1') !== '0';
const url = databaseUrl(base, NAME);
const MIN = 60_000;
const HOUR = 3_600_000;

interface SizeResult {
  label: string;
  shape: Shape;
  rows: number;
  heapBytes: number;
  indexBytes: number;
  totalBytes: number;
  loadSeconds: number;
  indexSeconds: number;
  windowRows: { route5m: number; route1h: number; vouchers1h: number };
  seedNoIndex: Record<string, Stats>;
  seedIndex: Record<string, Stats>;
  seedSumNoIndex: number;
  seedSumIndex: number;
  bot: Record<string, Stats>;
  guardNoIndex: Stats;
  guardColdNoIndexMs: number;
  guard: Stats;
  guardColdMs: number;
  guardResult: string;
  guardReads: string;
  backtest24h: Stats;
  status: Stats;
  baselineMs: number;
  explains: { title: string; plan: string }[];
  /** bench/db.ts: the bot role's database time per evaluation at 5 s (pg_stat_statements); null when unavailable. */
  botDb: { steadyMs: number; firstMs: number } | null;
}

const sumMedians = (r: Record<string, Stats>) => Object.values(r).reduce((a, s) => a + s.median, 0);

async function windowRows(pool: pg.Pool) {
  const q = async (types: string[], w: number) =>
    Number(
      (
        await pool.query(`SELECT count(*) AS n FROM analytics_logs WHERE event_type = ANY($1) AND created_at >= $2 AND created_at <= $3`, [
          types,
          new Date(END.getTime() - w),
          END,
        ])
      ).rows[0].n,
    );
  return {
    route5m: await q(['gen_route'], 5 * MIN),
    route1h: await q(['gen_route'], HOUR),
    vouchers1h: await q(['gen_ok', 'voucher_issued'], HOUR),
  };
}

/*
 * The guard as the scheduler runs it: the clock advances evaluateEvery (30 s) per cycle and ends
 * at the data's last instant, so every cycle's windows slide over real rows and the incremental
 * 1 h windows (src/db/rolling-windows.ts) read what a live bot reads: the head and tail minutes,
 * the minutes that settled since the last cycle, and the few whose 10 min re-read fell due.
 * The first cycle (empty cache: a full read, as after a start or a leader change) is timed
 * apart; `warmup` more cycles are run untimed, then `n` timed.
 */
async function guardRun(svc: RolloutService, clock: Clock, n: number, warmup: number, every: number) {
  const total = 1 + warmup + n;
  clock.t = END.getTime() - (total - 1) * every;
  let t = performance.now();
  let kind = (await guardCycle(svc)).kind;
  const coldMs = performance.now() - t;
  for (let i = 0; i < warmup; i++) {
    clock.t += every;
    kind = (await guardCycle(svc)).kind;
  }
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    clock.t += every;
    t = performance.now();
    kind = (await guardCycle(svc)).kind;
    samples.push(performance.now() - t);
  }
  if (clock.t !== END.getTime()) throw new Error('guardRun: the clock did not end at the data end');
  const r = guardWindows(svc).lastRead;
  const reads = `${r.minutes} whole min (${r.fineMinutes} per ms) in ${r.ranges} ranges${r.incremental ? ' + rows arrived since the last read' : ', head read whole'}`;
  return { stats: stats(samples), coldMs, kind, reads };
}

async function benchSize(millions: number, largest: boolean): Promise<{ result: SizeResult; detection: DetectionResult | null }> {
  const label = `${millions} M`;
  const shape = shapeFor(Math.round(millions * 1_000_000), END, SHAPE);
  log(`${label}: loading ${(shape.minutes / 60).toFixed(1)} h of traffic…`);
  await recreateDatabase(base!, NAME);
  const pool = benchPool(url);
  const load = await loadAnalytics(pool, shape, FRESH);
  log(`${label}: ${int(load.rows)} rows in ${load.seconds.toFixed(1)} s`);
  const db: Database = await openBot(url, false);
  const explains: SizeResult['explains'] = [];
  try {
    const wr = await windowRows(pool);

    // The seed's queries as a team runs them today: no index on the busy table.
    const seedNoIndex: Record<string, Stats> = {};
    for (const q of SEED_QUERIES) {
      seedNoIndex[q.name] = await measure(SLOW, () => pool.query(q.sql, [END]), 0);
      log(`${label}: seed ${q.name}, no index: ${ms(seedNoIndex[q.name])} ms`);
    }
    if (largest && EXPLAIN)
      for (const q of SEED_QUERIES)
        explains.push({ title: `seed: ${q.label} — WITHOUT the index`, plan: await explain(pool, q.sql, [END]) });

    // The bot: one run in D1, the clock pinned to the data's last instant.
    const plan = benchPlan();
    const clock = new Clock(END.getTime());
    const svc = service(db, plan, clock);
    const started = await svc.handle('d1', ADMIN);
    if (started.outcome.kind !== 'stage_started') throw new Error(`could not start d1: ${JSON.stringify(started.outcome)}`);
    let t = performance.now();
    await guardCycle(svc); // the first cycle also measures the baseline cost (24 h of `from`)
    const baselineMs = performance.now() - t;
    const every = plan.evaluateEveryMs;
    const gni = await guardRun(svc, clock, SLOW, 0, every);
    const guardNoIndex = gni.stats;
    log(`${label}: guard cycle, no index: ${ms(guardNoIndex)} ms (first cycle ${gni.coldMs.toFixed(0)} ms)`);

    // The bot's migration: CREATE INDEX CONCURRENTLY IF NOT EXISTS, outside a transaction.
    t = performance.now();
    await db.close();
    const dbi = await openBot(url, true);
    const indexSeconds = (performance.now() - t) / 1000;
    const svci = service(dbi, plan, clock);
    const sizes = (
      await pool.query(`SELECT pg_relation_size('analytics_logs')::bigint AS heap, pg_total_relation_size('analytics_logs')::bigint AS total,
      coalesce(pg_relation_size(to_regclass('analytics_logs_event_type_created_at_idx')), 0)::bigint AS idx`)
    ).rows[0];
    log(`${label}: index built concurrently in ${indexSeconds.toFixed(1)} s (${bytes(Number(sizes.idx))})`);

    const seedIndex: Record<string, Stats> = {};
    for (const q of SEED_QUERIES) seedIndex[q.name] = await measure(REPEAT, () => pool.query(q.sql, [END]));
    if (largest && EXPLAIN)
      for (const q of SEED_QUERIES) explains.push({ title: `seed: ${q.label} — with the index`, plan: await explain(pool, q.sql, [END]) });

    const bot: Record<string, Stats> = {
      'route 5 min + p95': await measure(REPEAT, () => readRouteWindow(dbi.metricsPool, plan, END, 5 * MIN, true)),
      'route 10 min (split)': await measure(REPEAT, () => readRouteWindow(dbi.metricsPool, plan, END, 10 * MIN, false)),
      'route 1 h (cost)': await measure(REPEAT, () => readRouteWindow(dbi.metricsPool, plan, END, HOUR, false)),
      'vouchers 1 h': await measure(REPEAT, () => readVoucherWindow(dbi.metricsPool, END, HOUR)),
    };
    if (largest && EXPLAIN) {
      const p = (w: number) => [new Date(END.getTime() - w), END, plan.maxLatencyMs, plan.maxCostPerImage];
      explains.push({
        title: 'bot: route window 5 min with p95 (p95 + failure rate lines)',
        plan: await explain(pool, ROUTE_WINDOW_SQL, p(5 * MIN)),
      });
      explains.push({
        title: 'bot: route window 1 h without p95 (cost line)',
        plan: await explain(pool, ROUTE_WINDOW_NO_P95_SQL, p(HOUR)),
      });
      explains.push({
        title: 'bot: voucher window 1 h (regenerate-voucher line)',
        plan: await explain(pool, VOUCHER_WINDOW_SQL, [new Date(END.getTime() - HOUR), END]),
      });
      // What the guard's per-minute cache reads in a typical cycle at 30 s past a minute: the
      // minute that just settled, read whole per ms, and the rows arrived in the last 5 s.
      const e = END.getTime() - 30_000;
      const { rows: ids } = await pool.query(`SELECT (SELECT max(id) FROM analytics_logs WHERE created_at <= $1)::text AS w`, [
        new Date(e - 5_000),
      ]);
      const q = bucketQueries(plan, {
        ranges: [{ lo: floorMinute(e - 2 * MIN - 30_000) - MIN, hi: floorMinute(e - 2 * MIN - 30_000), inclusive: false }],
        fine: [floorMinute(e - 2 * MIN - 30_000) - MIN],
        check: [],
        latenciesFrom: e - 5 * MIN - 30_000,
        from: e - HOUR,
        upTo: e,
        since: { route: ids[0].w, vouchers: ids[0].w, end: e - 5_000 },
      });
      explains.push({
        title: 'guard: per-minute gen_route sums, one cycle (the minute that settled, rows arrived in 5 s)',
        plan: await explain(pool, q.route.sql, q.route.params),
      });
      explains.push({ title: 'guard: per-minute voucher sums, one cycle', plan: await explain(pool, q.vouchers.sql, q.vouchers.params) });
    }

    const g = await guardRun(svci, clock, REPEAT, 3, every);
    const guard = g.stats;
    const guardResult = g.kind;
    log(`${label}: guard cycle: ${ms(guard)} ms (${guardResult}); first cycle ${g.coldMs.toFixed(0)} ms; last cycle read ${g.reads}`);
    clock.t = END.getTime();
    const status = await measure(REPEAT, () => svci.status(), 2);
    log(`${label}: status: ${ms(status)} ms`);
    const backtest24h = await measure(3, () => backtest(svci, 24 * HOUR), 0);
    log(`${label}: backtest 24 h: ${ms(backtest24h)} ms`);

    // Detection latency needs the production rate in the windows: the first size of a "rate" run.
    let detection: DetectionResult | null = null;
    if (TRIALS > 0 && SHAPE === 'rate' && millions === SIZES[0]) {
      await svci.handle('rollback bench: detection trials next', ADMIN);
      log(`${label}: detection latency, ${TRIALS} trials…`);
      detection = await detectionTrials(dbi, END, TRIALS);
    }
    await dbi.close();
    return {
      detection,
      result: {
        label,
        shape,
        rows: load.rows,
        heapBytes: Number(sizes.heap),
        indexBytes: Number(sizes.idx),
        totalBytes: Number(sizes.total),
        loadSeconds: load.seconds,
        indexSeconds,
        windowRows: wr,
        seedNoIndex,
        seedIndex,
        seedSumNoIndex: sumMedians(seedNoIndex),
        seedSumIndex: sumMedians(seedIndex),
        bot,
        guardNoIndex,
        guardColdNoIndexMs: gni.coldMs,
        guard,
        guardColdMs: g.coldMs,
        guardResult,
        guardReads: g.reads,
        backtest24h,
        status,
        baselineMs,
        explains,
        botDb: null,
      },
    };
  } finally {
    await pool.end();
  }
}

async function memoryPhase(): Promise<MemoryResult | null> {
  if (MEM_CYCLES <= 0) return null;
  // A small table (100 events a minute, 12 h, both providers at 50 %): the heap is what is
  // measured here, and it must not depend on how long each cycle waits for Postgres.
  const shape = shapeFor(12 * 60 * 100, END, 'rate', { rate: 100, weights: { fal: 0.5, runware: 0.5 } });
  await recreateDatabase(base!, NAME);
  const pool = benchPool(url);
  await loadAnalytics(pool, shape, 0);
  await pool.end();
  const db = await openBot(url, true);
  log(`memory: ${int(MEM_CYCLES)} guard cycles…`);
  try {
    return await memoryRun(db, shape.start, END, MEM_CYCLES);
  } finally {
    await db.close();
  }
}

/** The machine, described once: cores, RAM, Postgres, and the load average sampled through the run. */
interface Machine {
  cpus: string;
  ramGb: number;
  node: string;
  postgres: string;
  pgSettings: string;
  load: number[];
}

async function describeMachine(pool: pg.Pool): Promise<Omit<Machine, 'load'>> {
  const cpus = os.cpus();
  const version = (await pool.query('SELECT version() AS v')).rows[0].v as string;
  const settings = (
    await pool.query(
      `SELECT name, setting, unit FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem', 'effective_cache_size', 'max_parallel_workers_per_gather', 'jit') ORDER BY name`,
    )
  ).rows
    .map((r) => `${r.name}=${r.setting}${r.unit ?? ''}`)
    .join(', ');
  return {
    cpus: `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}`,
    ramGb: os.totalmem() / 1024 ** 3,
    node: process.version,
    postgres: version.split(',')[0],
    pgSettings: settings,
  };
}

function print(
  results: SizeResult[],
  detection: DetectionResult | null,
  memory: MemoryResult | null,
  ack: AckResult | null,
  machine: Machine,
  wallSeconds: number,
) {
  const first = results[0];
  const last = results[results.length - 1];
  const cols = ['', ...results.map((r) => r.label), results.length > 1 ? `${last.label} / ${first.label}` : ''];
  const row = (name: string, cell: (r: SizeResult) => string, r10?: string) => [name, ...results.map(cell), r10 ?? ''];
  const timeRow = (name: string, get: (r: SizeResult) => Stats) => row(name, (r) => ms(get(r)), ratio(get(last).median, get(first).median));
  const rows: (string[] | 'rule')[] = [
    row('rows in analytics_logs', (r) => int(r.rows), ratio(last.rows, first.rows, 1)),
    row('history covered', (r) => `${(r.shape.minutes / 60).toFixed(1)} h`),
    row('table (heap) / + all indexes', (r) => `${bytes(r.heapBytes)} / ${bytes(r.totalBytes)}`),
    row('index (event_type, created_at)', (r) => bytes(r.indexBytes)),
    row('load s / CREATE INDEX CONCURRENTLY s', (r) => `${r.loadSeconds.toFixed(0)} / ${r.indexSeconds.toFixed(1)}`),
    row(
      'rows in windows: route 5m / route 1h / ok+voucher 1h',
      (r) => `${int(r.windowRows.route5m)} / ${int(r.windowRows.route1h)} / ${int(r.windowRows.vouchers1h)}`,
      ratio(last.windowRows.route1h, first.windowRows.route1h),
    ),
    'rule',
    ...SEED_QUERIES.map((q) => timeRow(`seed ${q.label}, NO index (ms)`, (r) => r.seedNoIndex[q.name])),
    row(
      'seed, all five, NO index (sum of medians, ms)',
      (r) => r.seedSumNoIndex.toFixed(0),
      ratio(last.seedSumNoIndex, first.seedSumNoIndex),
    ),
    ...SEED_QUERIES.map((q) => timeRow(`seed ${q.label}, with index (ms)`, (r) => r.seedIndex[q.name])),
    row('seed, all five, with index (sum of medians, ms)', (r) => r.seedSumIndex.toFixed(1), ratio(last.seedSumIndex, first.seedSumIndex)),
    'rule',
    ...Object.keys(first.bot).map((k) => timeRow(`bot query: ${k} (ms)`, (r) => r.bot[k])),
    timeRow('GUARD CYCLE, NO index (ms)', (r) => r.guardNoIndex),
    row(
      'guard first cycle, empty cache, NO index (ms)',
      (r) => r.guardColdNoIndexMs.toFixed(0),
      ratio(last.guardColdNoIndexMs, first.guardColdNoIndexMs),
    ),
    timeRow('GUARD CYCLE, with index (ms)  <- target', (r) => r.guard),
    row('guard first cycle, empty cache (ms)', (r) => r.guardColdMs.toFixed(1), ratio(last.guardColdMs, first.guardColdMs)),
    timeRow('status render (ms)', (r) => r.status),
    row('baseline capture, 24 h, once a run (ms)', (r) => r.baselineMs.toFixed(0), ratio(last.baselineMs, first.baselineMs)),
    timeRow('backtest 24 h (ms)', (r) => r.backtest24h),
    row("bot's database time per evaluation, steady, every 5 s (ms, pg_stat_statements, bench:db)", (r) =>
      r.botDb ? r.botDb.steadyMs.toFixed(1) : '—',
    ),
    row("bot's database time, first evaluation after a start (ms, bench:db)", (r) => (r.botDb ? r.botDb.firstMs.toFixed(0) : '—')),
    // Not per size (its own small database): shown once, in the last column.
    row('slash-command ack p50 / p99 (ms), every query 2 s: single', (r) =>
      r !== last ? '' : ack ? `${ack.single.median.toFixed(1)} / ${ack.single.p99.toFixed(1)}` : 'skipped',
    ),
    row(`slash-command ack p50 / p99 (ms), every query 2 s: bursts of ${ack?.burstSize ?? 20}`, (r) =>
      r !== last ? '' : ack ? `${ack.burst.median.toFixed(1)} / ${ack.burst.p99.toFixed(1)}` : 'skipped',
    ),
    'rule',
    row('guard / seed, NO index (median / sum)', (r) => ratio(r.guard.median, r.seedSumNoIndex, 3)),
    row('guard / seed, with index (median / sum)', (r) => ratio(r.guard.median, r.seedSumIndex, 2)),
  ];
  const out: string[] = [];
  out.push('# rollout-bot performance bench', '');
  const load = machine.load;
  const mean = load.reduce((a, b) => a + b, 0) / (load.length || 1);
  out.push(
    `Machine: ${machine.cpus}, ${machine.ramGb.toFixed(0)} GB RAM, Node ${machine.node}; ${machine.postgres} on the same machine (${machine.pgSettings}).`,
  );
  out.push(
    `Load average (1 min) during the run: mean ${mean.toFixed(2)}, min ${Math.min(...load).toFixed(2)}, max ${Math.max(...load).toFixed(2)} (${load.length} samples, every 10 s).`,
    '',
  );
  out.push(
    `Postgres ${url.replace(/:[^:@/]*@/, ':***@')}; data ends ${END.toISOString()} (the daily peak); shape "${SHAPE}" ` +
      (SHAPE === 'rate'
        ? '(fixed production rate, ≈1.43 M rows a day: 10 M rows = 7 days; a smaller table is less history).'
        : '(every size is 7 days; the rate scales with the size).'),
  );
  out.push(
    `Cells are "median / p95" in ms over ${REPEAT} runs (${SLOW} runs without the index). The newest ${FRESH} min are not all-visible (loaded after VACUUM).`,
  );
  out.push(
    `Seed queries: verbatim, NOW() pinned to the data's end. Guard cycle: guardCycle() with the run in D1 (every red line, both providers, breach clocks, its transaction), the clock advancing 30 s a cycle and ending at the data's end; last result: ${first.guardResult}.`,
  );
  out.push(`Guard's incremental 1 h windows, last cycle at ${last.label}: ${last.guardReads}.`, '');
  out.push(table(cols, rows), '');

  // Targets.
  const verdict = (ok: boolean) => (ok ? 'MET' : 'NOT MET');
  const growth = last.guard.median / first.guard.median;
  const frac = last.guard.median / last.seedSumNoIndex;
  out.push('## Targets');
  if (results.length > 1)
    out.push(
      `- guard cycle grows with its windows, not the table: ${last.label} / ${first.label} = ${growth.toFixed(2)}× (target ≤ 1.5×; window rows ${ratio(last.windowRows.route1h, first.windowRows.route1h)}): ${verdict(growth <= 1.5)}`,
    );
  out.push(
    `- guard cycle median at ${last.label}: ${last.guard.median.toFixed(1)} ms (target ≤ 25 ms): ${verdict(last.guard.median <= 25)}`,
  );
  out.push(
    `- guard cycle / seed queries without index at ${last.label}: ${(frac * 100).toFixed(2)} % (target ≤ 10 %): ${verdict(frac <= 0.1)}`,
  );
  if (detection) {
    out.push(
      `- detection latency / evaluateEvery: median ${detection.fraction.median.toFixed(3)}, p95 ${detection.fraction.p95.toFixed(3)}, max ${detection.fraction.max.toFixed(3)} over ${detection.fraction.n} trials (target ≤ 1): ${verdict(detection.fraction.max <= 1 && detection.missed === 0)}`,
    );
    out.push(
      `  (by construction ≤ 1 + cycle time / evaluateEvery: a breach starting just after an evaluation waits a whole interval, ≈ ${(1 + last.guard.median / benchPlan().evaluateEveryMs).toFixed(4)} here)`,
    );
  }
  if (memory)
    out.push(
      `- memory over ${int(memory.cycles)} guard cycles: heap ${memory.samples[0].heapMb.toFixed(1)} → ${memory.samples[memory.samples.length - 1].heapMb.toFixed(1)} MB, growth ${(memory.heapGrowthMb * 1024).toFixed(0)} KB (last 3 samples vs first 3), slope ${memory.slopeKbPer1000.toFixed(1)} KB / 1 000 cycles (target: no growth; MET if < 1 MB): ${verdict(memory.heapGrowthMb < 1)}`,
    );
  if (ack) {
    out.push(
      `- slash-command ack with every query delayed ${ack.delayMs} ms (one query measured ${ack.queryMs.toFixed(0)} ms): single p50 ${ack.single.median.toFixed(1)} / p99 ${ack.single.p99.toFixed(1)} / max ${ack.single.max.toFixed(1)} ms (n ${ack.single.n}); bursts of ${ack.burstSize}: p50 ${ack.burst.median.toFixed(1)} / p99 ${ack.burst.p99.toFixed(1)} / max ${ack.burst.max.toFixed(1)} ms (n ${ack.burst.n}); non-200: ${ack.non200} (target p99 < 50 ms): ${verdict(ack.single.p99 < 50 && ack.burst.p99 < 50 && ack.non200 === 0)}`,
    );
    out.push(
      `  (${ack.replied}/${ack.sent} commands got their reply — the answer, or the slow-database notice after 4 s — through response_url within 30 s)`,
    );
  }
  out.push('');

  if (detection) {
    out.push('## Guard detection latency (controlled clock, real rows at the production rate)');
    out.push('From the moment a red line has held for its `for` to the commit of the rollback, as a fraction of evaluateEvery (30 s).');
    out.push(
      table(
        ['red line', 'trials', 'median', 'p95', 'min', 'max'],
        [
          ...Object.entries(detection.byLine).map(([k, s]) => [
            k,
            String(s.n),
            s.median.toFixed(3),
            s.p95.toFixed(3),
            s.min.toFixed(3),
            s.max.toFixed(3),
          ]),
          'rule',
          [
            'all',
            String(detection.fraction.n),
            detection.fraction.median.toFixed(3),
            detection.fraction.p95.toFixed(3),
            detection.fraction.min.toFixed(3),
            detection.fraction.max.toFixed(3),
          ],
        ],
      ),
    );
    out.push(`missed: ${detection.missed}; rolled back on another line than the injected one: ${detection.wrongLine}`, '');
  }
  if (memory) {
    out.push('## Memory over guard cycles (heap after full GC)');
    out.push(
      table(
        ['cycle', 'heap MB', 'rss MB'],
        memory.samples.map((s) => [int(s.cycle), s.heapMb.toFixed(2), s.rssMb.toFixed(1)]),
      ),
    );
    out.push(
      `${int(memory.cycles)} cycles (+200 warm-up) in ${memory.seconds.toFixed(0)} s on a small table (100 events/min); guard results: ${JSON.stringify(memory.results)}; shadow mode, so a chance breach cannot end the run`,
      '',
    );
  }
  const ex = last.explains;
  if (ex.length) {
    out.push(`## EXPLAIN (ANALYZE, BUFFERS) at ${last.label} rows`);
    for (const e of ex) out.push('', `### ${e.title}`, e.plan);
    out.push('');
  }
  out.push(`bench wall time: ${(wallSeconds / 60).toFixed(1)} min`);
  console.log(out.join('\n'));
}

async function main() {
  const t = performance.now();
  const load: number[] = [os.loadavg()[0]];
  const sampler = setInterval(() => load.push(os.loadavg()[0]), 10_000);
  const adminPool = benchPool(base!);
  const machine = { ...(await describeMachine(adminPool)), load };
  await adminPool.end();
  const results: SizeResult[] = [];
  let detection: DetectionResult | null = null;
  for (const [i, m] of SIZES.entries()) {
    const r = await benchSize(m, i === SIZES.length - 1);
    results.push(r.result);
    detection ??= r.detection;
  }
  // The bot's whole database time per evaluation, from pg_stat_statements on its own role
  // (bench/db.ts; its databases rollout_benchdb_<size>m are kept and reused). BENCH_DB=0 skips.
  if (env('BENCH_DB', '1') !== '0') {
    const missing = await statStatementsMissing();
    if (missing) log(missing);
    else
      for (const r of results) {
        const d = await botDatabaseTime(Number(r.label.split(' ')[0]));
        r.botDb = { steadyMs: d.steadyMs, firstMs: median(d.firsts.map((f) => f.ms)) };
      }
  }
  const memory = await memoryPhase();
  if (process.env.BENCH_KEEP !== '1') await dropDatabase(base!, NAME);
  let ack: AckResult | null = null;
  if (ACK) {
    log('ack: slash commands with every query delayed 2 s…');
    ack = await ackBench(base!);
  }
  // Last, on a quiet machine: start times are CPU-bound.
  let service: ProcessResult | null = null;
  if (env('BENCH_PROCESS', '1') !== '0') service = await processBench(base!);
  clearInterval(sampler);
  print(results, detection, memory, ack, machine, (performance.now() - t) / 1000);
  if (service) console.log(`\n${printProcess(service)}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
