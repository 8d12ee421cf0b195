import type pg from 'pg';
import type { Plan } from '../plan/plan.ts';
import { parsePlan, stageIndex } from '../plan/plan.ts';
import { planDifferences } from '../plan/plan-diff.ts';
import { durationLabel, formatDuration } from '../plan/duration.ts';
import { requestJson, type RolloutEvent } from '../core/events.ts';
import type { Outcome } from '../core/outcomes.ts';
import { RED_LINE_LABELS, type LineEvaluation } from '../core/red-lines.ts';
import { flagDrift } from '../core/status.ts';
import { isActiveStage, refuse, ROLLED_BACK, type Refusal, type RunPosition } from '../core/state-machine.ts';
import { readFlag, type WeightsLabel } from '../core/weights.ts';
import type { Actor, RequestView, RunView } from '../core/views.ts';
import { withTransaction, type Queryable } from '../db/database.ts';
import * as store from '../db/store.ts';
import { formatThreshold, formatValue } from '../render/format.ts';
import { verdictSentences } from '../render/compare.ts';
import type { EngineDeps } from './deps.ts';

/*
 * The pieces every state change is made of, inside one transaction under the state lock: the
 * commands (service.ts) and the guard (guard.ts) share them. Internal to the engine: front ends
 * call the service, never these.
 */

/**
 * One transaction under the state lock: read the latest run, decide, write. A refusal commits
 * with its audit row whatever it recorded on the way (an expiry, a stale request): those are
 * facts to keep, not half a change. The deciding functions write nothing else before refusing.
 */
export async function transaction(
  deps: EngineDeps,
  actor: Actor,
  what: Record<string, unknown>,
  fn: (c: pg.PoolClient, now: Date, run: RunView | null, plan: Plan) => Promise<Outcome | Refusal>,
): Promise<Outcome> {
  return withTransaction(deps.db.pool, async (c) => {
    await store.lockState(c);
    const now = deps.now();
    const run = await store.latestRun(c);
    // The run's own plan while it is in progress, whatever this replica was started with.
    const plan = await deps.plans.follow(c, run);
    const outcome = await fn(c, now, run, plan);
    if (!('ok' in outcome)) return outcome;
    await auditRefusal(c, now, run, actor, what, outcome);
    return refused(outcome);
  });
}

export async function auditRefusal(
  q: Queryable,
  now: Date,
  run: RunView | null,
  actor: Actor,
  what: Record<string, unknown>,
  refusal: Refusal,
): Promise<void> {
  await store.audit(q, {
    at: now,
    runId: run?.id ?? null,
    actor: actor.id,
    via: actor.via,
    origin: actor.origin,
    action: String(what.action),
    outcome: 'refused',
    detail: { ...what, code: refusal.code, message: refusal.message },
  });
}

export const refused = (r: Refusal): Outcome => ({ kind: 'refused', code: r.code, message: r.message });

export function record(c: pg.PoolClient, now: Date, runId: number | null, actor: Actor, action: string, detail: Record<string, unknown>) {
  return store.audit(c, { at: now, runId, actor: actor.id, via: actor.via, origin: actor.origin, action, outcome: 'done', detail });
}

export function emit(c: pg.PoolClient, now: Date, runId: number | null, event: RolloutEvent) {
  return store.enqueue(c, now, runId, event);
}

/**
 * Writes the rollback weights and ends the run; shared by people, the guard and the CLI.
 * The caller holds the state lock and emits the alert that fits.
 */
export async function endWithRollback(
  c: pg.PoolClient,
  plan: Plan,
  now: Date,
  run: RunView,
  actor: Actor,
  label: WeightsLabel,
  reason: string,
  detail: Record<string, unknown> = {},
): Promise<RunView> {
  await store.writeFlag(c, plan, plan.rollbackWeights, label);
  const ended = await store.updateRun(c, run.id, {
    state: ROLLED_BACK,
    endedAt: now,
    endReason: reason,
    writtenWeights: plan.rollbackWeights,
  });
  await staleAll(c, plan, now, 'the rollout was rolled back');
  await record(c, now, run.id, actor, 'rollback', { from: run.state, label, reason, weights: plan.rollbackWeights, ...detail });
  return ended;
}

export async function applyStage(
  c: pg.PoolClient,
  plan: Plan,
  now: Date,
  run: RunView | null,
  stageName: string,
  requester: Actor,
  approvers: string[],
  forced: boolean,
  requestId: number | null,
): Promise<Outcome> {
  const stage = plan.stages[stageIndex(plan, stageName)];
  const previousWeights = run && isActiveStage(plan, run.state) ? run.writtenWeights : plan.rollbackWeights;
  await store.writeFlag(c, plan, stage.weights, { stage: stage.name });
  let next: RunView;
  let planChange: Record<string, unknown> = {};
  if (!run || !isActiveStage(plan, run.state)) {
    planChange = await planChangeSince(c, run, plan);
    // A new run: its baseline is measured by the guard, off the lock (it reads 24 h of rows).
    next = await store.insertRun(c, {
      state: stage.name,
      at: now,
      by: requester.id,
      weights: stage.weights,
      baselineCost: plan.baselineCostPerImage,
      baselineNote: plan.baselineCostPerImage !== null ? 'baselineCostPerImage from the plan' : 'pending',
      plan: plan.document,
    });
  } else {
    next = await store.updateRun(c, run.id, {
      state: stage.name,
      stageStartedAt: now,
      writtenWeights: stage.weights,
      driftReported: null,
    });
  }
  await staleAll(c, plan, now, `${stage.name} started`);
  await record(c, now, next.id, requester, 'transition', {
    from: run?.state ?? 'idle',
    to: stage.name,
    weights: stage.weights,
    approvers,
    forced,
    request: requestId,
    ...planChange,
  });
  await emit(c, now, next.id, {
    kind: 'stage_started',
    runId: next.id,
    stage: stage.name,
    weights: stage.weights,
    previousWeights,
    by: requester.id,
    approvers,
    forced,
    at: now.toISOString(),
  });
  return { kind: 'stage_started', run: next, stage: stage.name, weights: stage.weights, forced, approvers };
}

/**
 * A new run starts with this replica's plan: its audit row says which keys changed from the plan
 * of the run before (nothing when they are the same, or there was none).
 */
async function planChangeSince(c: pg.PoolClient, previous: RunView | null, plan: Plan): Promise<Record<string, unknown>> {
  if (!previous) return {};
  const document = await store.runPlanDocument(c, previous.id);
  if (document === null) return {};
  let before: Plan;
  try {
    before = parsePlan(document, `the plan stored with rollout #${previous.id}`);
  } catch (err) {
    return { planChanged: { since: previous.id, keys: null, note: (err as Error).message } };
  }
  const differences = planDifferences(before, plan);
  if (!differences.length) return {};
  return {
    planChanged: {
      since: previous.id,
      keys: differences.map((d) => d.key),
      values: Object.fromEntries(differences.map((d) => [d.key, { before: d.a ?? null, now: d.b ?? null }])),
    },
  };
}

/**
 * Promotion goes ahead only on fresh, complete evidence (unless forced, audited): the flag is
 * what the bot wrote, the guard evaluated within 2 × evaluateEvery, and every red line was
 * judged ok — the runbook promotes only "if all are fine".
 */
export async function promotionBlocker(c: pg.PoolClient, plan: Plan, run: RunView, now: Date): Promise<Refusal | null> {
  const flag = readFlag(plan, await store.readFlagRow(c, plan));
  const drift = flagDrift(plan, run, flag);
  if (drift) return refuse('drift', `Not promoting: ${drift}. Roll back, or add --force to overwrite it (audited).`);
  const guard = await store.readGuardState(c, run.id);
  const ageMs = guard ? now.getTime() - guard.evaluatedAt.getTime() : null;
  if (ageMs === null || ageMs > 2 * plan.evaluateEveryMs) {
    const when = ageMs === null ? `has not evaluated ${run.state.toUpperCase()} yet` : `last evaluated ${formatDuration(ageMs)} ago`;
    return refuse(
      'unwatched',
      `Nobody is watching: the guard ${when} (it should every ${durationLabel(plan.evaluateEveryMs)}). Check that a bot replica is running and leads (GET /healthz, its log), then try again; or add --force (audited).`,
    );
  }
  const breaching = guard!.evaluations.filter((e) => e.state === 'breach');
  if (breaching.length)
    return refuse(
      'breaching',
      `Not promoting while ${describeLines(breaching)} ${breaching.length > 1 ? 'are' : 'is'} in breach; wait for recovery, roll back, or add --force (audited).`,
    );
  const unjudged = guard!.evaluations.filter((e) => e.state !== 'ok');
  if (unjudged.length) {
    return refuse(
      'no_evidence',
      `Not promoting: not every red line was judged ok. ${unjudged.map((e) => `${RED_LINE_LABELS[e.name]} is ${e.state.replace('_', ' ')} (${e.reason ?? 'no reason recorded'}): ${whatToDo(plan, e)}`).join('; ')}. Or add --force (audited).`,
    );
  }
  if (plan.compare.requireNotWorse) {
    const verdicts = guard!.clocks.judge?.verdicts ?? null;
    const proven = verdicts && verdicts.failures.verdict === 'not_worse' && verdicts.latency.verdict === 'not_worse';
    if (!proven) {
      const why = verdicts ? verdictSentences(plan, verdicts).join('; ') : 'the guard has not compared them yet';
      return refuse(
        'not_proven',
        `Not promoting: the plan requires ${plan.providerNames[plan.to]} to be shown not worse than ${plan.providerNames[plan.from]} (compare.requireNotWorse). ${why}. Wait, or add --force (audited).`,
      );
    }
  }
  return null;
}

export async function openRequest(c: pg.PoolClient, requestId: number | null): Promise<{ ok: true; request: RequestView } | Refusal> {
  const pending = await store.pendingRequest(c);
  if (requestId !== null && pending?.id !== requestId) {
    const r = await store.requestById(c, requestId);
    if (!r) return refuse('unknown_request', `There is no request #${requestId}.`);
    const when = r.decidedAt ? ` at ${r.decidedAt.toISOString().slice(11, 16)} UTC` : '';
    return refuse(
      'decided',
      `Request #${r.id} for ${r.toStage} is already ${r.status}${r.decidedBy ? ` by ${r.decidedBy}` : ''}${when}; nothing changed.`,
    );
  }
  if (!pending) return refuse('no_pending', 'There is no open request to decide. Request a stage first.');
  return { ok: true, request: pending };
}

/** Closes a request the rollout moved past; its message loses its buttons and says why. */
export async function markStale(c: pg.PoolClient, plan: Plan, now: Date, request: RequestView, why: string): Promise<void> {
  const stale = await store.updateRequest(c, request.id, { status: 'stale', decidedAt: now, decidedBy: 'guard', decisionNote: why });
  await emit(c, now, request.runId, { kind: 'request_updated', request: requestJson(stale), needed: plan.approvals });
}

export async function markExpired(c: pg.PoolClient, plan: Plan, now: Date, request: RequestView): Promise<void> {
  const expired = await store.updateRequest(c, request.id, {
    status: 'expired',
    decidedAt: now,
    decidedBy: 'guard',
    decisionNote: `expired after ${durationLabel(plan.requestTtlMs)} without enough approvals`,
  });
  await record(c, now, request.runId, { id: 'guard', via: 'guard' }, 'expire', { request: request.id, stage: request.toStage });
  await emit(c, now, request.runId, { kind: 'request_updated', request: requestJson(expired), needed: plan.approvals });
}

export async function staleAll(c: pg.PoolClient, plan: Plan, now: Date, why: string): Promise<void> {
  const pending = await store.pendingRequest(c);
  if (pending) await markStale(c, plan, now, pending, why);
}

export const isExpired = (plan: Plan, request: RequestView, now: Date) => now.getTime() - request.requestedAt.getTime() > plan.requestTtlMs;

/** "p95 latency (9.10 s, red line ≥ 8.00 s)" for refusals. */
export const describeLines = (lines: LineEvaluation[]) =>
  lines
    .map(
      (l) => `${RED_LINE_LABELS[l.name]} (${formatValue(l.name, l.value, l.threshold)}, red line ${formatThreshold(l.name, l.threshold)})`,
    )
    .join(', ');

/** What a person can do about a red line that was not judged ok. */
function whatToDo(plan: Plan, e: LineEvaluation): string {
  const to = plan.providerNames[plan.to];
  const from = plan.providerNames[plan.from];
  if (e.state === 'error') return 'fix what stops the guard reading analytics_logs (see its alert)';
  if (e.state === 'breach') return 'wait for recovery or roll back';
  if (e.name === 'costPerImageRatio' && !e.cost?.baseline)
    return `set baselineCostPerImage in the plan, or wait for ${from} traffic to measure the baseline`;
  if (e.candidateRequests < plan.minSamples)
    return `check that traffic reaches ${to} and wait for ${plan.minSamples} requests in ${durationLabel(e.windowMs)}`;
  return `wait for ${plan.minSamples} samples in ${durationLabel(e.windowMs)}`;
}

export const position = (run: RunView | null): RunPosition | null =>
  run ? { state: run.state, stageStartedAt: run.stageStartedAt } : null;

/** A request belongs to the run and stage it was made in; anything else moved on since. */
export function isStale(plan: Plan, request: RequestView, run: RunView | null): boolean {
  const current = run ? run.state : 'idle';
  if (request.fromState !== current) return true;
  if (run && isActiveStage(plan, run.state)) return request.runId !== run.id;
  return false;
}
