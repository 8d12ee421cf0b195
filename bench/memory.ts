import v8 from 'node:v8';
import vm from 'node:vm';
import type { Database } from '../src/db/database.ts';
import { guardCycle } from '../src/engine/guard.ts';
import { ADMIN, benchPlan, Clock, service } from './engine.ts';

/*
 * The bot's memory over many guard cycles: heap used after a full GC, sampled every tenth of
 * the run, plus RSS. The clock advances 30 s a cycle and wraps within the data, so every cycle
 * reads real windows and writes its guard state, like a bot running for days.
 */

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

export interface MemoryResult {
  cycles: number;
  seconds: number;
  samples: { cycle: number; heapMb: number; rssMb: number }[];
  /** Mean of the last three samples minus mean of the first three. */
  heapGrowthMb: number;
  /** Least-squares slope of heap over cycles, in KB per 1 000 cycles. */
  slopeKbPer1000: number;
  results: Record<string, number>;
}

const mb = (b: number) => b / 1024 / 1024;
const mean = (s: { heapMb: number }[]) => s.reduce((a, x) => a + x.heapMb, 0) / s.length;

export async function memoryRun(db: Database, dataStart: Date, dataEnd: Date, cycles: number): Promise<MemoryResult> {
  // Shadow mode: a chance sustained breach in the small windows must not end the run (after
  // which every cycle would be a cheap 'idle'); the guard still evaluates and alerts.
  const plan = benchPlan({ baselineCostPerImage: 0.005, autoRollback: false });
  const every = plan.evaluateEveryMs;
  const first = dataStart.getTime() + 2 * 3_600_000;
  const span = dataEnd.getTime() - first;
  const clock = new Clock(first);
  const svc = service(db, plan, clock);
  const started = await svc.handle('d1', ADMIN);
  if (started.outcome.kind !== 'stage_started') throw new Error(`memory: could not start d1: ${JSON.stringify(started.outcome)}`);
  const results: Record<string, number> = {};
  const step = async (i: number) => {
    clock.t = first + ((i * every) % span);
    const r = await guardCycle(svc);
    results[r.kind] = (results[r.kind] ?? 0) + 1;
  };
  for (let i = 0; i < 200; i++) await step(i); // warm up: JIT, pools, prepared paths
  const samples: MemoryResult['samples'] = [];
  const sample = (cycle: number) => {
    gc();
    gc();
    const m = process.memoryUsage();
    samples.push({ cycle, heapMb: mb(m.heapUsed), rssMb: mb(m.rss) });
  };
  const t = performance.now();
  sample(0);
  const every10 = Math.max(1, Math.floor(cycles / 10));
  for (let i = 1; i <= cycles; i++) {
    await step(200 + i);
    if (i % every10 === 0) sample(i);
  }
  const n = samples.length;
  const mx = samples.reduce((a, s) => a + s.cycle, 0) / n;
  const my = samples.reduce((a, s) => a + s.heapMb, 0) / n;
  const slope =
    samples.reduce((a, s) => a + (s.cycle - mx) * (s.heapMb - my), 0) / (samples.reduce((a, s) => a + (s.cycle - mx) ** 2, 0) || 1);
  return {
    cycles,
    seconds: (performance.now() - t) / 1000,
    samples,
    heapGrowthMb: mean(samples.slice(-3)) - mean(samples.slice(0, 3)),
    slopeKbPer1000: slope * 1000 * 1024,
    results,
  };
}
