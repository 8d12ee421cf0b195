import type pg from 'pg';
import { advanceClocks, emptyClocks, type ClockEvent, type GuardClocks } from '../core/breach-clock.ts';
import type { RolloutEvent } from '../core/events.ts';
import { addProviderSums, emptyProviderSums, judgeLines, stageVerdicts, type StageJudge, type StageSums } from '../core/judge.ts';
import { errorEvaluations, evaluateRedLines, RED_LINE_LABELS, type LineEvaluation } from '../core/red-lines.ts';
import { isActiveStage, ROLLED_BACK } from '../core/state-machine.ts';
import { flagDrift } from '../core/status.ts';
import type { RunView } from '../core/views.ts';
import { readFlag, sameWeights, type FlagReading } from '../core/weights.ts';
import type { Plan } from '../plan/plan.ts';
import { withTransaction } from '../db/database.ts';
import { readSnapshot } from '../db/metrics-queries.ts';
import { SETTLE_MS, type RollingWindows } from '../db/rolling-windows.ts';
import * as store from '../db/store.ts';
import { ensureBaselines, GUARD } from './baselines.ts';
import { metricWindows, type EngineDeps, type EngineRef } from './deps.ts';
import { describeError, isUnavailable } from './errors.ts';
import type { GuardResult } from './ports.ts';
import { endWithRollback, markStale } from './transitions.ts';

/** The per-minute cache the guard reads every window from (shared with status and reports). */
export const guardWindows = (engine: EngineRef): RollingWindows => metricWindows(engine.deps);

/**
 * One evaluation of every red line against the active stage. Metric reads happen before the
 * transaction (they may be slow or on a replica); the decision and its writes happen inside it,
 * after checking the run did not move meanwhile. Each step below is one thing the runbook asks.
 */
export async function guardCycle(engine: EngineRef): Promise<GuardResult> {
  const { deps } = engine;
  const { db } = deps;
  const now = deps.now();
  const latest = await store.latestRun(db.pool);
  // The run is judged by the plan stored with it, whatever this replica was started with.
  const plan = await deps.plans.follow(db.pool, latest);
  if (!latest || !isActiveStage(plan, latest.state)) return { kind: 'idle' };
  const run = await ensureBaselines(deps, latest, now);
  const windows = metricWindows(deps);
  const { evaluations, metricsError } = await evaluate(deps, run, now, windows);

  return withTransaction(db.pool, async (c): Promise<GuardResult> => {
    await store.lockState(c);
    const current = await store.latestRun(c);
    if (!current || current.id !== run.id || current.state !== run.state) return { kind: 'raced' };
    const cycle = inCycle(c, plan, now, current);
    const flag = readFlag(plan, await store.readFlagRow(c, plan));
    const drift = flagDrift(plan, current, flag);
    if (drift && flag.kind !== 'malformed' && sameWeights(plan, flag.weights, plan.rollbackWeights)) {
      await adoptManualRollback(cycle, flag, drift);
      return { kind: 'adopted_manual_rollback' };
    }
    await noteDrift(cycle, flag, drift);
    const prev = (await store.readGuardState(c, current.id))?.clocks ?? emptyClocks();
    const candidateWeight = flag.kind === 'malformed' ? current.writtenWeights[plan.to] : flag.weights[plan.to];
    const step = advanceClocks(plan, prev, evaluations, now, candidateWeight);
    // A held red line that recovered is alerted again if it breaches again.
    const sharedHeld = (prev.sharedHeld ?? []).filter((n) => step.clocks.lines[n]?.breachSince);
    // The stage's sums grow only from an evaluation that read the metrics.
    const judge = metricsError ? (prev.judge ?? null) : stageJudge(plan, windows, current, prev.judge ?? null, now);
    const clocks: GuardClocks = { ...step.clocks, metricsError, judge, sharedHeld };
    const breachesStarted = step.events.flatMap((e) => (e.kind === 'breach_started' ? [e.line.name] : []));
    await announceMetricsError(cycle, metricsError, prev.metricsError ?? null);
    for (const e of step.events) await announceClockEvent(cycle, e);
    const fired = await holdSharedBreaches(cycle, step.fired, sharedHeld);
    if (fired.length && plan.autoRollback) {
      await store.saveGuardState(c, { runId: current.id, evaluatedAt: now, clocks, evaluations });
      await rollBack(cycle, fired);
      return { kind: 'rolled_back', line: fired[0].line, breachesStarted };
    }
    if (fired.length) await announceShadowRollbacks(cycle, fired, clocks);
    await store.saveGuardState(c, { runId: current.id, evaluatedAt: now, clocks, evaluations });
    return { kind: 'evaluated', evaluations, breachesStarted };
  });
}

/** One cycle's writes: on its transaction, at its instant, for its run. */
interface Cycle {
  c: pg.PoolClient;
  plan: Plan;
  now: Date;
  run: RunView;
  emit(event: RolloutEvent): Promise<void>;
  alert(action: string, detail: Record<string, unknown>): Promise<void>;
}

function inCycle(c: pg.PoolClient, plan: Plan, now: Date, run: RunView): Cycle {
  return {
    c,
    plan,
    now,
    run,
    emit: (event) => store.enqueue(c, now, run.id, event),
    alert: (action, detail) =>
      store.audit(c, { at: now, runId: run.id, actor: GUARD.id, via: GUARD.via, action, outcome: 'alert', detail }),
  };
}

type Fired = ReturnType<typeof advanceClocks>['fired'][number];

/** Reads every window once and judges each red line; a metrics read that fails becomes an errored evaluation. */
async function evaluate(
  deps: EngineDeps,
  run: RunView,
  now: Date,
  windows: RollingWindows,
): Promise<{ evaluations: LineEvaluation[]; metricsError: string | null }> {
  const { db, plan } = deps;
  try {
    // The traffic window too: the checklist refresh shows the split from this snapshot.
    const snapshot = await readSnapshot(db.metricsPool, plan, now, [plan.trafficWindowMs], windows);
    const evaluations = judgeLines(
      plan,
      snapshot,
      evaluateRedLines(plan, snapshot, run.baselineCost),
      windows.judgeInputs(),
      run.baselineVouchers,
    );
    return { evaluations, metricsError: null };
  } catch (err) {
    // With one database, "unavailable" means nothing can be recorded either: let the scheduler report it.
    if (isUnavailable(err) && db.metricsPool === db.pool) throw err;
    const metricsError = describeError(err);
    return { evaluations: errorEvaluations(plan, metricsError), metricsError };
  }
}

/** Someone ran the seed's rollback SQL (or deleted the row): adopt it as a manual rollback, never overwrite it. */
async function adoptManualRollback(cycle: Cycle, flag: FlagReading, drift: string): Promise<void> {
  const { c, plan, now, run } = cycle;
  await store.updateRun(c, run.id, {
    state: ROLLED_BACK,
    endedAt: now,
    endReason: 'flag set to the rollback weights by hand (who is unknown)',
  });
  const pending = await store.pendingRequest(c);
  if (pending) await markStale(c, plan, now, pending, 'the flag was set to the rollback weights by hand');
  await store.audit(c, {
    at: now,
    runId: run.id,
    actor: 'unknown',
    via: 'flag',
    action: 'rollback',
    outcome: 'done',
    detail: { from: run.state, flag: flag.kind, drift },
  });
  await cycle.emit({
    kind: 'manual_rollback',
    runId: run.id,
    stage: run.state,
    by: 'unknown',
    via: 'flag',
    reason: drift,
    weights: plan.rollbackWeights,
    byHand: true,
    at: now.toISOString(),
  });
}

/** A flag changed by hand is alerted once per value it was changed to; the note clears when it matches again. */
async function noteDrift(cycle: Cycle, flag: FlagReading, drift: string | null): Promise<void> {
  const { c, now, run } = cycle;
  const fingerprint = flag.kind === 'missing' ? '(missing)' : (flag.row.flagValueText ?? '(null)');
  if (drift && run.driftReported !== fingerprint) {
    await store.updateRun(c, run.id, { driftReported: fingerprint });
    await cycle.alert('flag_drift', { drift, found: fingerprint });
    await cycle.emit({
      kind: 'flag_drift',
      runId: run.id,
      stage: run.state,
      expected: run.writtenWeights,
      found: fingerprint,
      problem: flag.kind === 'malformed' ? flag.problem : null,
      at: now.toISOString(),
    });
  } else if (!drift && run.driftReported) {
    await store.updateRun(c, run.id, { driftReported: null });
  }
}

/** The guard could not read the metrics (said once), or can again. */
async function announceMetricsError(cycle: Cycle, metricsError: string | null, before: string | null): Promise<void> {
  const { run, now } = cycle;
  if (metricsError && !before) {
    await cycle.alert('guard_error', { message: metricsError });
    await cycle.emit({ kind: 'guard_error', runId: run.id, stage: run.state, message: metricsError, at: now.toISOString() });
  } else if (!metricsError && before) {
    await cycle.emit({ kind: 'guard_recovered', runId: run.id, stage: run.state, at: now.toISOString() });
  }
}

async function announceClockEvent(cycle: Cycle, e: ClockEvent): Promise<void> {
  const { plan, run, now, alert, emit } = cycle;
  const at = now.toISOString();
  switch (e.kind) {
    case 'breach_started':
      await alert('breach_started', { line: e.line });
      return emit({
        kind: 'breach_started',
        runId: run.id,
        stage: run.state,
        line: e.line,
        forMs: e.forMs,
        at,
        shadow: !plan.autoRollback,
      });
    case 'breach_recovered':
      await alert('breach_recovered', { line: e.line, breachSince: e.breachSince });
      return emit({ kind: 'breach_recovered', runId: run.id, stage: run.state, line: e.line, breachSince: e.breachSince, at });
    case 'no_traffic':
      await alert('no_traffic', { candidateRequests: e.candidateRequests, thinForMs: e.thinSinceMs });
      return emit({
        kind: 'no_traffic',
        runId: run.id,
        stage: run.state,
        provider: plan.to,
        weight: run.writtenWeights[plan.to],
        candidateRequests: e.candidateRequests,
        thinForMs: e.thinSinceMs,
        at,
      });
    case 'traffic_restored':
      return emit({ kind: 'traffic_restored', runId: run.id, stage: run.state, provider: plan.to, at });
  }
}

/**
 * FAL breaching the same red line: the runbook still rolls back, unless the plan says hold. A
 * held line is alerted once (recorded in sharedHeld, which the saved clocks share); returns the
 * red lines that fire.
 */
async function holdSharedBreaches(cycle: Cycle, allFired: Fired[], sharedHeld: string[]): Promise<Fired[]> {
  const { plan, run, now } = cycle;
  const fired = allFired.filter((f) => !f.line.shared || plan.onSharedBreach === 'rollback');
  for (const f of allFired) {
    if (fired.includes(f) || sharedHeld.includes(f.line.name)) continue;
    sharedHeld.push(f.line.name);
    await cycle.alert('shared_hold', { line: f.line, heldMs: f.heldMs });
    await cycle.emit({ kind: 'shared_hold', runId: run.id, stage: run.state, line: f.line, heldMs: f.heldMs, at: now.toISOString() });
  }
  return fired;
}

/** The first red line that held for its `for` rolls back; the others are named with it. */
async function rollBack(cycle: Cycle, fired: Fired[]): Promise<void> {
  const { c, plan, now, run } = cycle;
  const [first, ...others] = fired;
  const reason = `${RED_LINE_LABELS[first.line.name]} in breach for ${Math.round(first.heldMs / 1000)} s`;
  await endWithRollback(c, plan, now, run, GUARD, 'Rollback', reason, {
    automatic: true,
    line: first.line,
    heldMs: first.heldMs,
    breachSince: first.breachSince,
    baseline: run.baselineCost,
  });
  await cycle.emit({
    kind: 'auto_rollback',
    runId: run.id,
    stage: run.state,
    line: first.line,
    heldMs: first.heldMs,
    others: others.map((o) => o.line.name),
    weights: plan.rollbackWeights,
    shadow: false,
    at: now.toISOString(),
  });
}

/** Shadow mode (autoRollback off): the rollback that would have happened is alerted once per red line. */
async function announceShadowRollbacks(cycle: Cycle, fired: Fired[], clocks: GuardClocks): Promise<void> {
  const { plan, run, now } = cycle;
  for (const f of fired) {
    if (clocks.shadowFired.includes(f.line.name)) continue;
    clocks.shadowFired = [...clocks.shadowFired, f.line.name];
    await cycle.alert('shadow_rollback', { line: f.line, heldMs: f.heldMs });
    await cycle.emit({
      kind: 'auto_rollback',
      runId: run.id,
      stage: run.state,
      line: f.line,
      heldMs: f.heldMs,
      others: [],
      weights: plan.rollbackWeights,
      shadow: true,
      at: now.toISOString(),
    });
  }
}

/**
 * The stage's sums so far and the sequential verdicts on them. Each minute is added once, when it
 * has settled (2 min), from the per-minute cache; a minute the cache no longer holds (after a
 * restart, more than an hour back) is skipped, and one without its latencies counts for failures only.
 */
function stageJudge(plan: Plan, windows: RollingWindows, run: RunView, prev: StageJudge | null, now: Date): StageJudge {
  const minute = 60_000;
  const same = prev && prev.sums.runId === run.id && prev.sums.stage === run.state;
  let sums: StageSums = same
    ? prev.sums
    : {
        runId: run.id,
        stage: run.state,
        through: Math.ceil(run.stageStartedAt.getTime() / minute) * minute,
        to: emptyProviderSums(),
        from: emptyProviderSums(),
      };
  const settled = Math.floor((now.getTime() - SETTLE_MS) / minute) * minute;
  if (settled > sums.through) {
    sums = {
      ...sums,
      through: settled,
      to: addProviderSums(sums.to, windows.settledSums(sums.through, settled, plan.to)),
      from: addProviderSums(sums.from, windows.settledSums(sums.through, settled, plan.from)),
    };
  }
  return { sums, verdicts: stageVerdicts(plan, sums, run.stageStartedAt, now, SETTLE_MS) };
}
