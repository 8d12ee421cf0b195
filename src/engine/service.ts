import type pg from 'pg';
import type { Plan } from '../plan/plan.ts';
import { stageIndex } from '../plan/plan.ts';
import { durationLabel, formatDuration } from '../plan/duration.ts';
import { parseCommand, usage, type Command } from '../core/commands.ts';
import { requestJson, type RolloutEvent } from '../core/events.ts';
import { privately, type Outcome, type Reply } from '../core/outcomes.ts';
import { errorEvaluations, evaluateRedLines, RED_LINE_LABELS, type LineEvaluation } from '../core/red-lines.ts';
import { routeWindow, trafficSplit } from '../core/metrics.ts';
import { buildStatus, flagDrift, type StatusView } from '../core/status.ts';
import {
  checkComplete,
  checkPromotion,
  checkRollback,
  COMPLETE,
  isActiveStage,
  refuse,
  ROLLED_BACK,
  type Refusal,
  type RunPosition,
} from '../core/state-machine.ts';
import { readFlag, type WeightsLabel } from '../core/weights.ts';
import type { Actor, RequestView, RunView } from '../core/views.ts';
import { withTransaction, type Queryable } from '../db/database.ts';
import { readSnapshot } from '../db/metrics-queries.ts';
import * as store from '../db/store.ts';
import { describeError, isUnavailable } from './errors.ts';
import { backtest } from './backtest.ts';
import { writeStageChart } from './chart.ts';
import type { HistoryProgress } from '../db/history-queries.ts';
import { formatThreshold, formatValue } from '../render/format.ts';
import { verdictSentences } from '../render/compare.ts';
import { metricWindows, type EngineDeps } from './deps.ts';
import { judgeLines } from '../core/judge.ts';

export type { EngineDeps };

export interface CommandHooks {
  /** Long reads (backtest) report progress here: chunks done of total. */
  progress?: HistoryProgress;
}

/**
 * The command core: every front end (Slack, console, CLI) calls `handle(text, actor)` or a
 * method below. Each state change is one transaction under the state lock, with its audit row
 * and its outbox events, so concurrent requests resolve to exactly one transition.
 */
export class RolloutService {
  constructor(readonly deps: EngineDeps) {}

  get plan(): Plan {
    return this.deps.plan;
  }

  async handle(text: string, actor: Actor, hooks: CommandHooks = {}): Promise<Reply> {
    const parsed = parseCommand(this.plan, text);
    if (!parsed.ok) return privately({ kind: 'usage', problem: parsed.problem, lines: usage(this.plan) });
    return this.run(parsed.command, actor, hooks);
  }

  async run(command: Command, actor: Actor, hooks: CommandHooks = {}): Promise<Reply> {
    try {
      const denied = this.deps.access.refusal(actor, command);
      if (denied) {
        const refusal = refuse('not_admin', denied);
        await this.auditRefusal(
          this.deps.db.pool,
          this.deps.now(),
          await store.latestRun(this.deps.db.pool),
          actor,
          { action: command.kind },
          refusal,
        );
        return privately(refused(refusal));
      }
      const outcome = await this.dispatch(command, actor, hooks);
      return { outcome, visibility: outcome.kind === 'backtest' ? 'thread' : 'private' };
    } catch (err) {
      if (isUnavailable(err)) {
        return privately({
          kind: 'unavailable',
          message: `The database is unavailable (${describeError(err)}). Nothing was changed; try again in a minute.`,
        });
      }
      return privately({ kind: 'error', message: `Something went wrong: ${describeError(err)}. Nothing was changed.` });
    }
  }

  private async dispatch(command: Command, actor: Actor, hooks: CommandHooks): Promise<Outcome> {
    switch (command.kind) {
      case 'status':
        return { kind: 'status', status: await this.status() };
      case 'help':
        return { kind: 'help', lines: usage(this.plan) };
      case 'history':
        return { kind: 'history', entries: await store.recentAudit(this.deps.db.pool, command.limit) };
      case 'promote':
        return this.promote(actor, command.stage, command.force);
      case 'approve':
        return this.approve(actor, command.requestId);
      case 'reject':
        return this.reject(actor, command.requestId, command.reason);
      case 'rollback':
        return this.rollback(actor, command.reason, command.expect);
      case 'complete':
        return this.complete(actor);
      case 'backtest':
        return { kind: 'backtest', result: await backtest(this, command.sinceMs, hooks.progress), requestedBy: actor.id };
      case 'chart': {
        // It writes a file on the machine running the command: from Slack that would be the bot's
        // host (any path a channel member names) and a blocking render on the guard's event loop.
        if (actor.via !== 'console' && actor.via !== 'cli') {
          const refusal = refuse(
            'not_here',
            'chart writes a PNG file on the machine that runs it, so it works from the console and `npx rollout chart` only. In Slack the charts come by themselves: under the stage checklist with every report, and under every breach and rollback alert.',
          );
          await this.auditRefusal(
            this.deps.db.pool,
            this.deps.now(),
            await store.latestRun(this.deps.db.pool),
            actor,
            { action: 'chart' },
            refusal,
          );
          return refused(refusal);
        }
        return { kind: 'chart', ...(await writeStageChart(this, command)) };
      }
    }
  }

  /**
   * Everything `status` shows. With preferGuard (the live checklist, every evaluateEvery), the red
   * lines come from the guard's evaluation and the traffic split from the snapshot it was made
   * from, when both are fresh: a refresh reads no metrics at all. Otherwise every window comes
   * from the process's per-minute cache (reading only the new rows).
   */
  async status(opts: { preferGuard?: boolean } = {}): Promise<StatusView> {
    const { db, plan } = this.deps;
    const now = this.deps.now();
    const [run, pending, flagRow, health] = await Promise.all([
      store.latestRun(db.pool),
      store.pendingRequest(db.pool),
      store.readFlagRow(db.pool, plan),
      this.deps.health.read(),
    ]);
    const guard = run ? await store.readGuardState(db.pool, run.id) : null;
    const guardFresh =
      !!guard && !!run && isActiveStage(plan, run.state) && now.getTime() - guard.evaluatedAt.getTime() <= 2 * plan.evaluateEveryMs;
    let lines: LineEvaluation[];
    let split = { total: 0, shares: {}, counts: {} } as ReturnType<typeof trafficSplit>;
    let metricsError: string | null = null;
    try {
      const cache = metricWindows(this.deps);
      const latest = cache.latest;
      const fresh = (at: Date) => now.getTime() - at.getTime() <= 2 * plan.evaluateEveryMs;
      if (opts.preferGuard && guardFresh && latest && fresh(latest.at) && latest.routes.some((r) => r.windowMs === plan.trafficWindowMs)) {
        lines = guard.evaluations;
        split = trafficSplit(routeWindow(latest, plan.trafficWindowMs), plan.from, plan.to);
      } else {
        const snapshot = await readSnapshot(db.metricsPool, plan, now, [plan.trafficWindowMs], cache);
        lines = judgeLines(
          plan,
          snapshot,
          evaluateRedLines(plan, snapshot, run?.baselineCost ?? plan.baselineCostPerImage),
          cache.judgeInputs(),
          run?.baselineVouchers ?? null,
        );
        split = trafficSplit(routeWindow(snapshot, plan.trafficWindowMs), plan.from, plan.to);
      }
    } catch (err) {
      if (isUnavailable(err) && db.metricsPool === db.pool) throw err;
      metricsError = describeError(err);
      lines = errorEvaluations(plan, metricsError);
    }
    return buildStatus({
      plan,
      now,
      run,
      flag: readFlag(plan, flagRow),
      health,
      lines,
      clocks: guard?.clocks.lines ?? {},
      guardEvaluatedAt: guard?.evaluatedAt ?? null,
      split,
      pending,
      metricsError,
      verdicts: guard?.clocks.judge?.verdicts ?? null,
    });
  }

  async promote(actor: Actor, target: string, force: boolean): Promise<Outcome> {
    const { plan } = this.deps;
    return this.transaction(actor, { action: `request ${target}`, force }, async (c, now, run) => {
      const pos = position(run);
      const check = checkPromotion(plan, pos, target, now, force);
      if (!check.ok) return check;
      const pending = await store.pendingRequest(c);
      if (pending) {
        if (isStale(plan, pending, run)) {
          await this.markStale(c, now, pending, 'the rollout moved on');
        } else if (isExpired(plan, pending, now)) {
          await this.markExpired(c, now, pending);
        } else {
          const hint = pending.requestedBy === actor.id ? 'wait for an approval, or reject it to withdraw' : 'approve or reject it';
          return refuse('pending', `${pending.requestedBy} already requested ${pending.toStage} (request #${pending.id}); ${hint}.`);
        }
      }
      if (run && isActiveStage(plan, run.state) && !force) {
        const blocker = await this.promotionBlocker(c, run, now);
        if (blocker) return blocker;
      }
      if (plan.approvals === 0) return this.applyStage(c, now, run, check.stage.name, actor, [], force, null);
      const request = await store.insertRequest(c, {
        runId: run?.id ?? null,
        fromState: pos?.state ?? 'idle',
        toStage: target,
        forced: force,
        by: actor.id,
        at: now,
      });
      const guard = run ? await store.readGuardState(c, run.id) : null;
      await this.record(c, now, run?.id ?? null, actor, 'request', { request: request.id, stage: target, forced: force });
      await this.emit(c, now, run?.id ?? null, {
        kind: 'request_opened',
        request: requestJson(request),
        needed: plan.approvals,
        fromWeights: run && isActiveStage(plan, run.state) ? run.writtenWeights : plan.rollbackWeights,
        toWeights: check.stage.weights,
        soakDone: !pos || !isActiveStage(plan, pos.state) || force || checkPromotion(plan, pos, target, now, false).ok,
        lines: guard?.evaluations ?? [],
      });
      return { kind: 'requested', request, needed: plan.approvals };
    });
  }

  async approve(actor: Actor, requestId: number | null): Promise<Outcome> {
    const { plan } = this.deps;
    return this.transaction(actor, { action: 'approve', request: requestId }, async (c, now, run) => {
      const found = await this.openRequest(c, requestId);
      if (!found.ok) return found;
      const request = found.request;
      if (isStale(plan, request, run)) {
        await this.markStale(c, now, request, 'the rollout moved on since it was requested');
        return refuse(
          'stale',
          `Request #${request.id} for ${request.toStage} is stale: the rollout is now ${run?.state ?? 'idle'}. Request again if still wanted.`,
        );
      }
      if (isExpired(plan, request, now)) {
        await this.markExpired(c, now, request);
        return refuse(
          'expired',
          `Request #${request.id} for ${request.toStage} expired (older than ${Math.round(plan.requestTtlMs / 60_000)} min). Request again.`,
        );
      }
      if (request.requestedBy === actor.id)
        return refuse('self_approval', `You requested ${request.toStage}; another admin must approve it (two-person rule).`);
      if (request.approvals.some((a) => a.by === actor.id))
        return refuse(
          'already_approved',
          `You already approved request #${request.id}; it needs ${plan.approvals - request.approvals.length} more.`,
        );
      const approvals = [...request.approvals, { by: actor.id, at: now.toISOString() }];
      if (approvals.length < plan.approvals) {
        const updated = await store.updateRequest(c, request.id, { approvals });
        await this.record(c, now, request.runId, actor, 'approve', {
          request: request.id,
          stage: request.toStage,
          approvals: approvals.length,
          needed: plan.approvals,
        });
        await this.emit(c, now, request.runId, { kind: 'request_updated', request: requestJson(updated), needed: plan.approvals });
        return { kind: 'approval_recorded', request: updated, needed: plan.approvals };
      }
      const check = checkPromotion(plan, position(run), request.toStage, now, request.forced);
      if (!check.ok) return check;
      // The world may have changed since the request: re-check what would block it now.
      if (run && isActiveStage(plan, run.state) && !request.forced) {
        const blocker = await this.promotionBlocker(c, run, now);
        if (blocker) return blocker;
      }
      const decided = await store.updateRequest(c, request.id, { status: 'approved', approvals, decidedBy: actor.id, decidedAt: now });
      await this.record(c, now, request.runId, actor, 'approve', {
        request: request.id,
        stage: request.toStage,
        approvals: approvals.length,
        needed: plan.approvals,
      });
      await this.emit(c, now, request.runId, { kind: 'request_updated', request: requestJson(decided), needed: plan.approvals });
      const started = await this.applyStage(
        c,
        now,
        run,
        request.toStage,
        { id: request.requestedBy, via: actor.via },
        approvals.map((a) => a.by),
        request.forced,
        request.id,
      );
      return started.kind === 'stage_started' ? { ...started, request: decided } : started;
    });
  }

  async reject(actor: Actor, requestId: number | null, reason: string | null): Promise<Outcome> {
    const { plan } = this.deps;
    return this.transaction(actor, { action: 'reject', request: requestId, reason }, async (c, now) => {
      const found = await this.openRequest(c, requestId);
      if (!found.ok) return found;
      const decided = await store.updateRequest(c, found.request.id, {
        status: 'rejected',
        decidedBy: actor.id,
        decidedAt: now,
        decisionNote: reason,
      });
      await this.record(c, now, decided.runId, actor, 'reject', { request: decided.id, stage: decided.toStage, reason });
      await this.emit(c, now, decided.runId, { kind: 'request_updated', request: requestJson(decided), needed: plan.approvals });
      return { kind: 'rejected', request: decided };
    });
  }

  async rollback(actor: Actor, reason: string | null, expect?: { run: number; stage: string }): Promise<Outcome> {
    return this.transaction(actor, { action: 'rollback', reason, ...(expect ? { expect } : {}) }, async (c, now, run) => {
      if (expect && (run?.id !== expect.run || run.state !== expect.stage)) {
        const nowState = run ? `${run.state.toUpperCase().replace('_', ' ')} (rollout #${run.id})` : 'idle';
        return refuse(
          'stale',
          `This was for ${expect.stage.toUpperCase()} of rollout #${expect.run}; the rollout is now ${nowState}. Nothing changed; use \`/rollout rollback\` if it still needs rolling back.`,
        );
      }
      const check = checkRollback(this.plan, position(run));
      if (!check.ok) return check;
      const ended = await this.endWithRollback(c, now, run!, actor, 'Manual Rollback', reason ?? 'no reason given');
      await this.emit(c, now, run!.id, {
        kind: 'manual_rollback',
        runId: run!.id,
        stage: run!.state,
        by: actor.id,
        via: actor.via,
        reason,
        weights: this.plan.rollbackWeights,
        byHand: false,
        at: now.toISOString(),
      });
      return { kind: 'rolled_back', run: ended, reason, weights: this.plan.rollbackWeights };
    });
  }

  async complete(actor: Actor): Promise<Outcome> {
    return this.transaction(actor, { action: 'complete' }, async (c, now, run) => {
      const check = checkComplete(this.plan, position(run));
      if (!check.ok) return check;
      const breaching = (await store.readGuardState(c, run!.id))?.evaluations.filter((e) => e.state === 'breach') ?? [];
      if (breaching.length) {
        return refuse(
          'breaching',
          `Not completing while ${describeLines(breaching)} ${breaching.length > 1 ? 'are' : 'is'} in breach: the runbook watches ${run!.state.toUpperCase()} until it is clean. Wait for recovery, or roll back.`,
        );
      }
      const ended = await store.updateRun(c, run!.id, { state: COMPLETE, endedAt: now, endReason: `completed by ${actor.id}` });
      await this.staleAll(c, now, 'the rollout completed');
      await this.record(c, now, run!.id, actor, 'complete', { stage: run!.state });
      await this.emit(c, now, run!.id, { kind: 'completed', runId: run!.id, by: actor.id, at: now.toISOString() });
      return { kind: 'completed', run: ended };
    });
  }

  /**
   * Writes the rollback weights and ends the run; shared by people, the guard and the CLI.
   * The caller holds the state lock and emits the alert that fits.
   */
  async endWithRollback(
    c: pg.PoolClient,
    now: Date,
    run: RunView,
    actor: Actor,
    label: WeightsLabel,
    reason: string,
    detail: Record<string, unknown> = {},
  ): Promise<RunView> {
    await store.writeFlag(c, this.plan, this.plan.rollbackWeights, label);
    const ended = await store.updateRun(c, run.id, {
      state: ROLLED_BACK,
      endedAt: now,
      endReason: reason,
      writtenWeights: this.plan.rollbackWeights,
    });
    await this.staleAll(c, now, 'the rollout was rolled back');
    await this.record(c, now, run.id, actor, 'rollback', { from: run.state, label, reason, weights: this.plan.rollbackWeights, ...detail });
    return ended;
  }

  // ---- pieces shared by the transitions ----

  private async applyStage(
    c: pg.PoolClient,
    now: Date,
    run: RunView | null,
    stageName: string,
    requester: Actor,
    approvers: string[],
    forced: boolean,
    requestId: number | null,
  ): Promise<Outcome> {
    const { plan } = this.deps;
    const stage = plan.stages[stageIndex(plan, stageName)];
    const previousWeights = run && isActiveStage(plan, run.state) ? run.writtenWeights : plan.rollbackWeights;
    await store.writeFlag(c, plan, stage.weights, { stage: stage.name });
    let next: RunView;
    if (!run || !isActiveStage(plan, run.state)) {
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
    await this.staleAll(c, now, `${stage.name} started`);
    await this.record(c, now, next.id, requester, 'transition', {
      from: run?.state ?? 'idle',
      to: stage.name,
      weights: stage.weights,
      approvers,
      forced,
      request: requestId,
    });
    await this.emit(c, now, next.id, {
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
   * Promotion goes ahead only on fresh, complete evidence (unless forced, audited): the flag is
   * what the bot wrote, the guard evaluated within 2 × evaluateEvery, and every red line was
   * judged ok — the runbook promotes only "if all are fine".
   */
  private async promotionBlocker(c: pg.PoolClient, run: RunView, now: Date): Promise<Refusal | null> {
    const { plan } = this;
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

  private async openRequest(c: pg.PoolClient, requestId: number | null): Promise<{ ok: true; request: RequestView } | Refusal> {
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
  async markStale(c: pg.PoolClient, now: Date, request: RequestView, why: string): Promise<void> {
    const stale = await store.updateRequest(c, request.id, { status: 'stale', decidedAt: now, decidedBy: 'guard', decisionNote: why });
    await this.emit(c, now, request.runId, { kind: 'request_updated', request: requestJson(stale), needed: this.plan.approvals });
  }

  private async markExpired(c: pg.PoolClient, now: Date, request: RequestView): Promise<void> {
    const expired = await store.updateRequest(c, request.id, {
      status: 'expired',
      decidedAt: now,
      decidedBy: 'guard',
      decisionNote: `expired after ${durationLabel(this.plan.requestTtlMs)} without enough approvals`,
    });
    await this.record(c, now, request.runId, { id: 'guard', via: 'guard' }, 'expire', { request: request.id, stage: request.toStage });
    await this.emit(c, now, request.runId, { kind: 'request_updated', request: requestJson(expired), needed: this.plan.approvals });
  }

  /**
   * Expires the open request once it is older than requestTtl, so its message says so and a new
   * request is accepted even if nobody clicks. The leader calls it every evaluation: one indexed
   * read, and a transaction only when there is something to expire.
   */
  async expireRequests(): Promise<boolean> {
    const pending = await store.pendingRequest(this.deps.db.pool);
    if (!pending || !isExpired(this.plan, pending, this.deps.now())) return false;
    return withTransaction(this.deps.db.pool, async (c) => {
      await store.lockState(c);
      const now = this.deps.now();
      const current = await store.pendingRequest(c);
      if (!current || current.id !== pending.id || !isExpired(this.plan, current, now)) return false;
      await this.markExpired(c, now, current);
      return true;
    });
  }

  private async staleAll(c: pg.PoolClient, now: Date, why: string): Promise<void> {
    const pending = await store.pendingRequest(c);
    if (pending) await this.markStale(c, now, pending, why);
  }

  private record(c: pg.PoolClient, now: Date, runId: number | null, actor: Actor, action: string, detail: Record<string, unknown>) {
    return store.audit(c, { at: now, runId, actor: actor.id, via: actor.via, origin: actor.origin, action, outcome: 'done', detail });
  }

  private emit(c: pg.PoolClient, now: Date, runId: number | null, event: RolloutEvent) {
    return store.enqueue(c, now, runId, event);
  }

  /**
   * One transaction under the state lock: read the latest run, decide, write. A refusal commits
   * with its audit row whatever it recorded on the way (an expiry, a stale request): those are
   * facts to keep, not half a change. The deciding functions write nothing else before refusing.
   */
  private async transaction(
    actor: Actor,
    what: Record<string, unknown>,
    fn: (c: pg.PoolClient, now: Date, run: RunView | null) => Promise<Outcome | Refusal>,
  ): Promise<Outcome> {
    return withTransaction(this.deps.db.pool, async (c) => {
      await store.lockState(c);
      const now = this.deps.now();
      const run = await store.latestRun(c);
      const outcome = await fn(c, now, run);
      if (!('ok' in outcome)) return outcome;
      await this.auditRefusal(c, now, run, actor, what, outcome);
      return refused(outcome);
    });
  }

  private async auditRefusal(
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
}

const refused = (r: Refusal): Outcome => ({ kind: 'refused', code: r.code, message: r.message });

const isExpired = (plan: Plan, request: RequestView, now: Date) => now.getTime() - request.requestedAt.getTime() > plan.requestTtlMs;

/** "p95 latency (9.10 s, red line ≥ 8.00 s)" for refusals. */
const describeLines = (lines: LineEvaluation[]) =>
  lines
    .map((l) => `${RED_LINE_LABELS[l.name]} (${formatValue(l.name, l.value)}, red line ${formatThreshold(l.name, l.threshold)})`)
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

const position = (run: RunView | null): RunPosition | null => (run ? { state: run.state, stageStartedAt: run.stageStartedAt } : null);

/** A request belongs to the run and stage it was made in; anything else moved on since. */
function isStale(plan: Plan, request: RequestView, run: RunView | null): boolean {
  const current = run ? run.state : 'idle';
  if (request.fromState !== current) return true;
  if (run && isActiveStage(plan, run.state)) return request.runId !== run.id;
  return false;
}
