import type { Plan } from '../plan/plan.ts';
import { isReadOnly, parseCommand, usage, type Command } from '../core/commands.ts';
import { requestJson } from '../core/events.ts';
import { privately, type Outcome, type Reply } from '../core/outcomes.ts';
import type { StatusView } from '../core/status.ts';
import { checkComplete, checkPromotion, checkRollback, COMPLETE, isActiveStage, refuse, type RefusalCode } from '../core/state-machine.ts';
import type { Actor } from '../core/views.ts';
import { withTransaction } from '../db/database.ts';
import * as store from '../db/store.ts';
import type { HistoryProgress } from '../db/history-queries.ts';
import { describeError, isUnavailable } from './errors.ts';
import { backtest } from './backtest.ts';
import { writeStageChart } from './chart.ts';
import type { EngineDeps, EngineInput } from './deps.ts';
import { PlanInForce } from './plan-in-force.ts';
import { RolloutReads } from './reads.ts';
import {
  applyStage,
  auditRefusal,
  describeLines,
  emit,
  endWithRollback,
  isExpired,
  isStale,
  markExpired,
  markStale,
  openRequest,
  position,
  promotionBlocker,
  record,
  refused,
  staleAll,
  transaction,
} from './transitions.ts';

export type { EngineDeps };

export interface CommandHooks {
  /** Long reads (backtest) report progress here: chunks done of total. */
  progress?: HistoryProgress;
}

/** A button or form made for one run and stage: refused, under the lock, if the rollout moved on. */
export type Expectation = { run: number; stage: string };

/**
 * The command core: every front end (Slack, console, CLI) calls `handle(text, actor)` or a
 * method below, and reads through `reads` (the read model). Each state change is one transaction
 * under the state lock, with its audit row and its outbox events, so concurrent requests resolve
 * to exactly one transition.
 */
export class RolloutService {
  readonly reads: RolloutReads;
  readonly deps: EngineDeps;

  constructor(input: EngineInput) {
    const plans = new PlanInForce(input.plan, input.log);
    // deps.plan is read at each use: it follows the run in progress (plan-in-force.ts).
    this.deps = Object.defineProperty({ ...input, plans }, 'plan', { get: () => plans.current, enumerable: true }) as EngineDeps;
    this.reads = new RolloutReads(this.deps);
  }

  /** The plan in force (see EngineDeps.plan). */
  get plan(): Plan {
    return this.deps.plan;
  }

  /**
   * Works out the plan in force from the latest run and, if this replica's differs from the run's,
   * says so (once per run). At start and at every scheduler tick, leader or standby.
   */
  async followRun(): Promise<Plan> {
    const { db, plans } = this.deps;
    const run = await store.latestRun(db.pool);
    const plan = await plans.follow(db.pool, run);
    await plans.announce(db.pool, run, this.deps.now());
    return plan;
  }

  async handle(text: string, actor: Actor, hooks: CommandHooks = {}): Promise<Reply> {
    const parsed = parseCommand(this.plan, text);
    if (!parsed.ok) return privately({ kind: 'usage', problem: parsed.problem, lines: usage(this.plan) });
    return this.run(parsed.command, actor, hooks);
  }

  async run(command: Command, actor: Actor, hooks: CommandHooks = {}): Promise<Reply> {
    if (this.deps.rehearsal && !isReadOnly(command)) {
      // Nothing to audit into, and nothing may be written here: say what would make it work.
      return privately(
        refused(
          refuse(
            'not_here',
            `${command.kind} changes the rollout, and this database has no rollout schema yet (the bot has never started here): only status, history, backtest and chart work until it has.`,
          ),
        ),
      );
    }
    try {
      const denied = this.deps.access.refusal(actor, command);
      if (denied) {
        const refusal = refuse('not_admin', denied);
        await auditRefusal(
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
        return { kind: 'history', entries: await this.reads.history(command.limit) };
      case 'promote':
        return this.promote(actor, command.stage, command.force, command.expect);
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
          await auditRefusal(
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

  /** Everything `status` shows (the read model's; see RolloutReads.status). */
  status(opts: { preferGuard?: boolean } = {}): Promise<StatusView> {
    return this.reads.status(opts);
  }

  /**
   * A refusal a front end decided (a tampered or stale button), audited like the core's own
   * refusals so the history shows every attempt.
   */
  async refuse(actor: Actor, action: string, code: RefusalCode, message: string, detail: Record<string, unknown>): Promise<Outcome> {
    const { db, now } = this.deps;
    const run = await store.latestRun(db.pool);
    await store.audit(db.pool, {
      at: now(),
      runId: run?.id ?? null,
      actor: actor.id,
      via: actor.via,
      action,
      outcome: 'refused',
      detail: { ...detail, code, message },
    });
    return { kind: 'refused', code, message };
  }

  async promote(actor: Actor, target: string, force: boolean, expect?: Expectation): Promise<Outcome> {
    return transaction(
      this.deps,
      actor,
      { action: `request ${target}`, force, ...(expect ? { expect } : {}) },
      async (c, now, run, plan) => {
        if (expect && (run?.id !== expect.run || run.state !== expect.stage)) {
          return refuse(
            'stale',
            `This button was for rollout #${expect.run} at ${expect.stage.toUpperCase()}; the rollout moved on since. Nothing changed; see \`/rollout status\`.`,
          );
        }
        const pos = position(run);
        const check = checkPromotion(plan, pos, target, now, force);
        if (!check.ok) return check;
        const pending = await store.pendingRequest(c);
        if (pending) {
          if (isStale(plan, pending, run)) {
            await markStale(c, plan, now, pending, 'the rollout moved on');
          } else if (isExpired(plan, pending, now)) {
            await markExpired(c, plan, now, pending);
          } else {
            const hint = pending.requestedBy === actor.id ? 'wait for an approval, or reject it to withdraw' : 'approve or reject it';
            return refuse('pending', `${pending.requestedBy} already requested ${pending.toStage} (request #${pending.id}); ${hint}.`);
          }
        }
        if (run && isActiveStage(plan, run.state) && !force) {
          const blocker = await promotionBlocker(c, plan, run, now);
          if (blocker) return blocker;
        }
        if (plan.approvals === 0) return applyStage(c, plan, now, run, check.stage.name, actor, [], force, null);
        const request = await store.insertRequest(c, {
          runId: run?.id ?? null,
          fromState: pos?.state ?? 'idle',
          toStage: target,
          forced: force,
          by: actor.id,
          at: now,
        });
        const guard = run ? await store.readGuardState(c, run.id) : null;
        await record(c, now, run?.id ?? null, actor, 'request', { request: request.id, stage: target, forced: force });
        await emit(c, now, run?.id ?? null, {
          kind: 'request_opened',
          request: requestJson(request),
          needed: plan.approvals,
          fromWeights: run && isActiveStage(plan, run.state) ? run.writtenWeights : plan.rollbackWeights,
          toWeights: check.stage.weights,
          soakDone: !pos || !isActiveStage(plan, pos.state) || force || checkPromotion(plan, pos, target, now, false).ok,
          lines: guard?.evaluations ?? [],
        });
        return { kind: 'requested', request, needed: plan.approvals };
      },
    );
  }

  async approve(actor: Actor, requestId: number | null): Promise<Outcome> {
    return transaction(this.deps, actor, { action: 'approve', request: requestId }, async (c, now, run, plan) => {
      const found = await openRequest(c, requestId);
      if (!found.ok) return found;
      const request = found.request;
      if (isStale(plan, request, run)) {
        await markStale(c, plan, now, request, 'the rollout moved on since it was requested');
        return refuse(
          'stale',
          `Request #${request.id} for ${request.toStage} is stale: the rollout is now ${run?.state ?? 'idle'}. Request again if still wanted.`,
        );
      }
      if (isExpired(plan, request, now)) {
        await markExpired(c, plan, now, request);
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
        await record(c, now, request.runId, actor, 'approve', {
          request: request.id,
          stage: request.toStage,
          approvals: approvals.length,
          needed: plan.approvals,
        });
        await emit(c, now, request.runId, { kind: 'request_updated', request: requestJson(updated), needed: plan.approvals });
        return { kind: 'approval_recorded', request: updated, needed: plan.approvals };
      }
      const check = checkPromotion(plan, position(run), request.toStage, now, request.forced);
      if (!check.ok) return check;
      // The world may have changed since the request: re-check what would block it now.
      if (run && isActiveStage(plan, run.state) && !request.forced) {
        const blocker = await promotionBlocker(c, plan, run, now);
        if (blocker) return blocker;
      }
      const decided = await store.updateRequest(c, request.id, { status: 'approved', approvals, decidedBy: actor.id, decidedAt: now });
      await record(c, now, request.runId, actor, 'approve', {
        request: request.id,
        stage: request.toStage,
        approvals: approvals.length,
        needed: plan.approvals,
      });
      await emit(c, now, request.runId, { kind: 'request_updated', request: requestJson(decided), needed: plan.approvals });
      const started = await applyStage(
        c,
        plan,
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
    return transaction(this.deps, actor, { action: 'reject', request: requestId, reason }, async (c, now, _run, plan) => {
      const found = await openRequest(c, requestId);
      if (!found.ok) return found;
      const decided = await store.updateRequest(c, found.request.id, {
        status: 'rejected',
        decidedBy: actor.id,
        decidedAt: now,
        decisionNote: reason,
      });
      await record(c, now, decided.runId, actor, 'reject', { request: decided.id, stage: decided.toStage, reason });
      await emit(c, now, decided.runId, { kind: 'request_updated', request: requestJson(decided), needed: plan.approvals });
      return { kind: 'rejected', request: decided };
    });
  }

  async rollback(actor: Actor, reason: string | null, expect?: Expectation): Promise<Outcome> {
    return transaction(this.deps, actor, { action: 'rollback', reason, ...(expect ? { expect } : {}) }, async (c, now, run, plan) => {
      if (expect && (run?.id !== expect.run || run.state !== expect.stage)) {
        const nowState = run ? `${run.state.toUpperCase().replace('_', ' ')} (rollout #${run.id})` : 'idle';
        return refuse(
          'stale',
          `This was for ${expect.stage.toUpperCase()} of rollout #${expect.run}; the rollout is now ${nowState}. Nothing changed; use \`/rollout rollback\` if it still needs rolling back.`,
        );
      }
      const check = checkRollback(plan, position(run));
      if (!check.ok) return check;
      const ended = await endWithRollback(c, plan, now, run!, actor, 'Manual Rollback', reason ?? 'no reason given');
      await emit(c, now, run!.id, {
        kind: 'manual_rollback',
        runId: run!.id,
        stage: run!.state,
        by: actor.id,
        via: actor.via,
        reason,
        weights: plan.rollbackWeights,
        byHand: false,
        at: now.toISOString(),
      });
      return { kind: 'rolled_back', run: ended, reason, weights: plan.rollbackWeights };
    });
  }

  async complete(actor: Actor): Promise<Outcome> {
    return transaction(this.deps, actor, { action: 'complete' }, async (c, now, run, plan) => {
      const check = checkComplete(plan, position(run));
      if (!check.ok) return check;
      const breaching = (await store.readGuardState(c, run!.id))?.evaluations.filter((e) => e.state === 'breach') ?? [];
      if (breaching.length) {
        return refuse(
          'breaching',
          `Not completing while ${describeLines(breaching)} ${breaching.length > 1 ? 'are' : 'is'} in breach: the runbook watches ${run!.state.toUpperCase()} until it is clean. Wait for recovery, or roll back.`,
        );
      }
      const ended = await store.updateRun(c, run!.id, { state: COMPLETE, endedAt: now, endReason: `completed by ${actor.id}` });
      await staleAll(c, plan, now, 'the rollout completed');
      await record(c, now, run!.id, actor, 'complete', { stage: run!.state });
      await emit(c, now, run!.id, { kind: 'completed', runId: run!.id, by: actor.id, at: now.toISOString() });
      return { kind: 'completed', run: ended };
    });
  }

  /**
   * Expires the open request once it is older than requestTtl, so its message says so and a new
   * request is accepted even if nobody clicks. The leader calls it every evaluation: one indexed
   * read, and a transaction only when there is something to expire.
   */
  async expireRequests(): Promise<boolean> {
    const { plan } = this.deps;
    const pending = await store.pendingRequest(this.deps.db.pool);
    if (!pending || !isExpired(plan, pending, this.deps.now())) return false;
    return withTransaction(this.deps.db.pool, async (c) => {
      await store.lockState(c);
      const now = this.deps.now();
      const current = await store.pendingRequest(c);
      if (!current || current.id !== pending.id || !isExpired(plan, current, now)) return false;
      await markExpired(c, plan, now, current);
      return true;
    });
  }
}
