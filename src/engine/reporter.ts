import { evaluateRedLines } from '../core/red-lines.ts';
import { judgeLines } from '../core/judge.ts';
import { reportSnapshot, type ReportSnapshot } from '../core/report.ts';
import { isActiveStage } from '../core/state-machine.ts';
import { withTransaction } from '../db/database.ts';
import { readSnapshot } from '../db/metrics-queries.ts';
import * as store from '../db/store.ts';
import { metricWindows, type EngineRef } from './deps.ts';

/** One periodic report for the active stage, stored and queued in one transaction. */
export async function reportCycle(engine: EngineRef): Promise<ReportSnapshot | null> {
  const { db } = engine.deps;
  const now = engine.deps.now();
  const run = await store.latestRun(db.pool);
  const plan = await engine.deps.plans.follow(db.pool, run);
  if (!run || !isActiveStage(plan, run.state)) return null;
  const cache = metricWindows(engine.deps);
  const snapshot = await readSnapshot(db.metricsPool, plan, now, [plan.trafficWindowMs], cache);
  // Judged like the guard's evaluation, so the report shows Runware against FAL too.
  const current = reportSnapshot(
    plan,
    snapshot,
    judgeLines(plan, snapshot, evaluateRedLines(plan, snapshot, run.baselineCost), cache.judgeInputs(), run.baselineVouchers),
  );
  return withTransaction(db.pool, async (c) => {
    await store.lockState(c);
    const latest = await store.latestRun(c);
    if (!latest || latest.id !== run.id || latest.state !== run.state) return null;
    const previous = await store.latestReport<ReportSnapshot>(c, run.id);
    await store.saveReport(c, run.id, now, current);
    await store.enqueue(c, now, run.id, { kind: 'report', runId: run.id, stage: run.state, current, previous, at: now.toISOString() });
    return current;
  });
}
