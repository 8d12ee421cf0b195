import type pg from 'pg';
import { advanceClocks, emptyClocks, type ClockEvent, type GuardClocks } from '../core/breach-clock.ts';
import type { RolloutEvent } from '../core/events.ts';
import { errorEvaluations, evaluateRedLines, RED_LINE_LABELS, type LineEvaluation } from '../core/red-lines.ts';
import { isActiveStage, ROLLED_BACK } from '../core/state-machine.ts';
import { flagDrift } from '../core/status.ts';
import { readFlag, sameWeights } from '../core/weights.ts';
import type { Actor, RunView } from '../core/views.ts';
import { withTransaction } from '../db/database.ts';
import type { VoucherWindow } from '../core/metrics.ts';
import { measureBaselineCost, readSnapshot, readVoucherWindow } from '../db/metrics-queries.ts';
import { SETTLE_MS, type RollingWindows } from '../db/rolling-windows.ts';
import { addProviderSums, emptyProviderSums, judgeLines, stageVerdicts, type StageJudge, type StageSums } from '../core/judge.ts';
import * as store from '../db/store.ts';
import { describeError, isUnavailable } from './errors.ts';
import type { RolloutService } from './service.ts';
import { metricWindows } from './deps.ts';
import type { GuardResult } from './ports.ts';

export const GUARD: Actor = { id: 'guard', via: 'guard' };

/** The per-minute cache the guard reads every window from (shared with status and reports). */
export const guardWindows = (service: RolloutService): RollingWindows => metricWindows(service.deps);

/**
 * One evaluation of every red line against the active stage. Metric reads happen before the
 * transaction (they may be slow or on a replica); the decision and its writes happen inside it,
 * after checking the run did not move meanwhile.
 */
export async function guardCycle(service: RolloutService): Promise<GuardResult> {
  const { db, plan } = service.deps;
  const now = service.deps.now();
  let run = await store.latestRun(db.pool);
  if (!run || !isActiveStage(plan, run.state)) return { kind: 'idle' };
  if (baselineDue(service, run, now)) run = await captureBaseline(service, run, now);
  if (!run.baselineVouchers) run = await captureVoucherBaseline(service, run, now);

  let evaluations: LineEvaluation[];
  let metricsError: string | null = null;
  const windows = guardWindows(service);
  try {
    // The traffic window too: the checklist refresh shows the split from this snapshot.
    const snapshot = await readSnapshot(db.metricsPool, plan, now, [plan.trafficWindowMs], windows);
    evaluations = judgeLines(
      plan,
      snapshot,
      evaluateRedLines(plan, snapshot, run.baselineCost),
      windows.judgeInputs(),
      run.baselineVouchers,
    );
  } catch (err) {
    // With one database, "unavailable" means nothing can be recorded either: let the scheduler report it.
    if (isUnavailable(err) && db.metricsPool === db.pool) throw err;
    metricsError = describeError(err);
    evaluations = errorEvaluations(plan, metricsError);
  }

  return withTransaction(db.pool, async (c) => {
    await store.lockState(c);
    const current = await store.latestRun(c);
    if (!current || current.id !== run.id || current.state !== run.state) return { kind: 'raced' } as GuardResult;
    const emit = (event: RolloutEvent) => store.enqueue(c, now, current.id, event);
    const alert = (action: string, detail: Record<string, unknown>) =>
      store.audit(c, { at: now, runId: current.id, actor: GUARD.id, via: GUARD.via, action, outcome: 'alert', detail });

    const flag = readFlag(plan, await store.readFlagRow(c, plan));
    const drift = flagDrift(plan, current, flag);
    if (drift && flag.kind !== 'malformed' && sameWeights(plan, flag.weights, plan.rollbackWeights)) {
      // Someone ran the seed's rollback SQL (or deleted the row): adopt it, never overwrite it.
      await store.updateRun(c, current.id, {
        state: ROLLED_BACK,
        endedAt: now,
        endReason: 'flag set to the rollback weights by hand (who is unknown)',
      });
      const pending = await store.pendingRequest(c);
      if (pending) await service.markStale(c, now, pending, 'the flag was set to the rollback weights by hand');
      await store.audit(c, {
        at: now,
        runId: current.id,
        actor: 'unknown',
        via: 'flag',
        action: 'rollback',
        outcome: 'done',
        detail: { from: current.state, flag: flag.kind, drift },
      });
      await emit({
        kind: 'manual_rollback',
        runId: current.id,
        stage: current.state,
        by: 'unknown',
        via: 'flag',
        reason: drift,
        weights: plan.rollbackWeights,
        byHand: true,
        at: now.toISOString(),
      });
      return { kind: 'adopted_manual_rollback' } as GuardResult;
    }
    const fingerprint = flag.kind === 'missing' ? '(missing)' : (flag.row.flagValueText ?? '(null)');
    if (drift && current.driftReported !== fingerprint) {
      await store.updateRun(c, current.id, { driftReported: fingerprint });
      await alert('flag_drift', { drift, found: fingerprint });
      await emit({
        kind: 'flag_drift',
        runId: current.id,
        stage: current.state,
        expected: current.writtenWeights,
        found: fingerprint,
        problem: flag.kind === 'malformed' ? flag.problem : null,
        at: now.toISOString(),
      });
    } else if (!drift && current.driftReported) {
      await store.updateRun(c, current.id, { driftReported: null });
    }

    const prev = (await store.readGuardState(c, current.id))?.clocks ?? emptyClocks();
    const candidateWeight = flag.kind === 'malformed' ? current.writtenWeights[plan.to] : flag.weights[plan.to];
    const step = advanceClocks(plan, prev, evaluations, now, candidateWeight);
    // A held red line that recovered is alerted again if it breaches again.
    const sharedHeld = (prev.sharedHeld ?? []).filter((n) => step.clocks.lines[n]?.breachSince);
    // The stage's sums grow only from an evaluation that read the metrics.
    const judge = metricsError ? (prev.judge ?? null) : stageJudge(service, windows, current, prev.judge ?? null, now);
    const clocks: GuardClocks = { ...step.clocks, metricsError, judge, sharedHeld };
    const breachesStarted = step.events.flatMap((e) => (e.kind === 'breach_started' ? [e.line.name] : []));
    if (metricsError && !prev.metricsError) {
      await alert('guard_error', { message: metricsError });
      await emit({ kind: 'guard_error', runId: current.id, stage: current.state, message: metricsError, at: now.toISOString() });
    } else if (!metricsError && prev.metricsError) {
      await emit({ kind: 'guard_recovered', runId: current.id, stage: current.state, at: now.toISOString() });
    }
    for (const e of step.events) await emitClockEvent(c, service, current, now, e, emit, alert);

    // FAL breaching the same red line: the runbook still rolls back, unless the plan says hold.
    const fired = step.fired.filter((f) => !f.line.shared || plan.onSharedBreach === 'rollback');
    for (const f of step.fired) {
      if (fired.includes(f) || sharedHeld.includes(f.line.name)) continue;
      sharedHeld.push(f.line.name);
      await alert('shared_hold', { line: f.line, heldMs: f.heldMs });
      await emit({ kind: 'shared_hold', runId: current.id, stage: current.state, line: f.line, heldMs: f.heldMs, at: now.toISOString() });
    }
    if (fired.length) {
      const [first, ...others] = fired;
      if (plan.autoRollback) {
        await store.saveGuardState(c, { runId: current.id, evaluatedAt: now, clocks, evaluations });
        const reason = `${RED_LINE_LABELS[first.line.name]} in breach for ${Math.round(first.heldMs / 1000)} s`;
        await service.endWithRollback(c, now, current, GUARD, 'Rollback', reason, {
          automatic: true,
          line: first.line,
          heldMs: first.heldMs,
          breachSince: first.breachSince,
          baseline: current.baselineCost,
        });
        await emit({
          kind: 'auto_rollback',
          runId: current.id,
          stage: current.state,
          line: first.line,
          heldMs: first.heldMs,
          others: others.map((o) => o.line.name),
          weights: plan.rollbackWeights,
          shadow: false,
          at: now.toISOString(),
        });
        return { kind: 'rolled_back', line: first.line, breachesStarted } as GuardResult;
      }
      for (const f of fired) {
        if (clocks.shadowFired.includes(f.line.name)) continue;
        clocks.shadowFired = [...clocks.shadowFired, f.line.name];
        await alert('shadow_rollback', { line: f.line, heldMs: f.heldMs });
        await emit({
          kind: 'auto_rollback',
          runId: current.id,
          stage: current.state,
          line: f.line,
          heldMs: f.heldMs,
          others: [],
          weights: plan.rollbackWeights,
          shadow: true,
          at: now.toISOString(),
        });
      }
    }
    await store.saveGuardState(c, { runId: current.id, evaluatedAt: now, clocks, evaluations });
    return { kind: 'evaluated', evaluations, breachesStarted } as GuardResult;
  });
}

async function emitClockEvent(
  c: pg.PoolClient,
  service: RolloutService,
  run: RunView,
  now: Date,
  e: ClockEvent,
  emit: (event: RolloutEvent) => Promise<void>,
  alert: (action: string, detail: Record<string, unknown>) => Promise<void>,
): Promise<void> {
  const { plan } = service.deps;
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
  void c;
}

/**
 * The voucher rate's own baseline, once per run: regenerate vouchers and gen_ok over the voucher
 * window before the run started (vouchers carry no provider, so the judge compares the rate with
 * itself before D1). A read that fails is tried again at the next evaluation.
 */
async function captureVoucherBaseline(service: RolloutService, run: RunView, now: Date): Promise<RunView> {
  const { db, plan } = service.deps;
  let w: VoucherWindow;
  try {
    w = await readVoucherWindow(db.metricsPool, run.startedAt, plan.redLines.regenerateRatePercent.windowMs);
  } catch (err) {
    if (isUnavailable(err)) throw err;
    return run;
  }
  return withTransaction(db.pool, async (c) => {
    await store.lockState(c);
    const current = await store.latestRun(c);
    if (!current || current.id !== run.id || current.baselineVouchers) return current ?? run;
    await store.audit(c, {
      at: now,
      runId: run.id,
      actor: GUARD.id,
      via: GUARD.via,
      action: 'baseline',
      outcome: 'done',
      detail: { vouchers: w.vouchers, genOk: w.genOk },
    });
    return store.updateRun(c, run.id, { baselineVouchers: { vouchers: w.vouchers, genOk: w.genOk } });
  });
}

/**
 * The stage's sums so far and the sequential verdicts on them. Each minute is added once, when it
 * has settled (2 min), from the per-minute cache; a minute the cache no longer holds (after a
 * restart, more than an hour back) is skipped, and one without its latencies counts for failures only.
 */
function stageJudge(service: RolloutService, windows: RollingWindows, run: RunView, prev: StageJudge | null, now: Date): StageJudge {
  const { plan } = service.deps;
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
  return { sums, verdicts: stageVerdicts(plan, sums, run.stageStartedAt, now) };
}

/** An unmeasurable baseline is measured again this often, on the traffic `from` still serves. */
const BASELINE_RETRY_MS = 10 * 60_000;

/** First evaluation of a run, or an unmeasured baseline whose retry is due. */
function baselineDue(service: RolloutService, run: RunView, now: Date): boolean {
  if (run.baselineNote === 'pending') return true;
  if (run.baselineCost !== null || service.deps.plan.baselineCostPerImage !== null) return false;
  return !run.baselineCheckedAt || now.getTime() - run.baselineCheckedAt.getTime() >= BASELINE_RETRY_MS;
}

/**
 * Baseline cost: the plan's number, else `from`'s average over the lookback before the run
 * started. When that is not measurable (too few `from` costs before D1), it is tried again every
 * 10 min over the lookback ending now: during D1 and D2 `from` still serves most traffic, so
 * waiting for its traffic gives the cost red line a baseline.
 */
async function captureBaseline(service: RolloutService, run: RunView, now: Date): Promise<RunView> {
  const { db, plan } = service.deps;
  const first = run.baselineNote === 'pending';
  const from = plan.providerNames[plan.from];
  const hours = Math.round(plan.baselineLookbackMs / 3_600_000);
  // Before D1 first; then (the first time too, when the guard starts late) up to now.
  const ends = first && now.getTime() > run.startedAt.getTime() ? [run.startedAt, now] : [first ? run.startedAt : now];
  let cost: number | null = null;
  let note = '';
  try {
    for (const end of ends) {
      const span =
        end === run.startedAt
          ? `the ${hours} h before ${plan.stages[0].name.toUpperCase()} started`
          : `the ${hours} h before ${now.toISOString().slice(11, 16)} UTC (${from}'s traffic during the rollout, as too little was logged before it)`;
      const measured = await measureBaselineCost(db.metricsPool, plan, end);
      cost = measured.cost;
      note =
        cost !== null
          ? `average ${from} cost over ${span} (${measured.samples} images)`
          : `not measurable yet: ${measured.samples} ${from} costs in ${span}, fewer than minSamples ${plan.minSamples}; the cost red line has no data until ${from} traffic gives one (tried every 10 min), or set baselineCostPerImage in the plan`;
      if (cost !== null) break;
    }
  } catch (err) {
    if (isUnavailable(err)) throw err;
    note = `not measurable yet: ${describeError(err)}; the cost red line has no data (tried again in 10 min)`;
  }
  return withTransaction(db.pool, async (c) => {
    await store.lockState(c);
    const current = await store.latestRun(c);
    if (!current || current.id !== run.id || current.baselineCost !== null || (first && current.baselineNote !== 'pending'))
      return current ?? run;
    if (cost !== null || first)
      await store.audit(c, {
        at: now,
        runId: run.id,
        actor: GUARD.id,
        via: GUARD.via,
        action: 'baseline',
        outcome: 'done',
        detail: { cost, note },
      });
    return store.updateRun(c, run.id, { baselineCost: cost, baselineNote: note, baselineCheckedAt: now });
  });
}
