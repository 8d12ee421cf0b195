import { differenceInMilliseconds } from 'date-fns/differenceInMilliseconds';
import { healthConfirms, healthSummary } from '../core/health.ts';
import { isActiveStage, nextStage, ROLLED_BACK } from '../core/state-machine.ts';
import { weightsLine } from '../render/format.ts';
import { describeError, isUnavailable } from '../engine/errors.ts';
import { BackgroundLoop } from '../engine/loop.ts';
import type { RolloutService } from '../engine/service.ts';
import type { Logger } from '../log.ts';
import { checklistItems } from '../render/checklist.ts';
import { eventMessage, rollbackConfirmation } from '../render/blocks/events.ts';
import { drawChecklist, type ChecklistState, type RollbackState } from './checklist-state.ts';
import { keys, slackStore, type SlackStore } from './store.ts';
import { classify, failureText, type WebClient } from './web.ts';

/** How long after a rollback the bot keeps asking the health endpoint for the rollback weights. */
const CONFIRM_ROLLBACK_FOR_MS = 60 * 60_000;

export interface RefresherDeps {
  service: RolloutService;
  /** The Slack front end's tables (default: on the engine's database). */
  store?: SlackStore;
  web: WebClient;
  log: Logger;
  /** Only the leader edits messages, like only the leader runs the guard (proved, not cached). */
  isLeader: () => boolean | Promise<boolean>;
  everyMs?: number;
}

/**
 * Keeps the current stage's checklist live (chat.update), and adds the health endpoint's
 * confirmation under a rollback alert. A live view, not an event: a failed edit is simply
 * redone at the next pass, so it bypasses the outbox.
 */
export class ChecklistRefresher {
  private readonly loop: BackgroundLoop;
  private readonly store: SlackStore;

  constructor(private readonly deps: RefresherDeps) {
    this.store = deps.store ?? slackStore(deps.service.deps.db);
    this.loop = new BackgroundLoop({
      pass: () => this.leaderPass(),
      onError: (err) => {
        if (isUnavailable(err)) return; // the scheduler announces database outages
        this.deps.log.warn('checklist refresh failed', { error: describeError(err) });
      },
    });
  }

  start(): void {
    this.loop.start(this.deps.everyMs ?? this.deps.service.plan.evaluateEveryMs);
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One pass now (or one more after the running one), and waits for it. */
  async refresh(): Promise<void> {
    this.loop.kick();
    await this.loop.settle();
  }

  private async leaderPass(): Promise<void> {
    if (await this.deps.isLeader()) await this.pass();
  }

  private async pass(): Promise<void> {
    const { service } = this.deps;
    const { plan } = service.deps;
    const { store } = this;
    const run = await service.reads.latestRun();
    if (!run) return;
    if (isActiveStage(plan, run.state)) {
      const row = await store.message<ChecklistState>(keys.checklist(run.id, run.state));
      if (!row || row.state.ended) return;
      const status = await service.reads.status({ preferGuard: true });
      const stage = plan.stages.find((s) => s.name === run.state)!;
      const result = checklistItems(plan, stage, run.stageStartedAt, status, row.state.tracking);
      const next = nextStage(plan, { state: run.state, stageStartedAt: run.stageStartedAt });
      const pending =
        status.pending && next && status.pending.toStage === next.name ? { id: status.pending.id, stage: status.pending.toStage } : null;
      const state: ChecklistState = {
        ...row.state,
        items: result.items,
        ready: result.ready,
        tracking: result.tracking,
        pendingRequest: pending,
        checkedAt: status.at.toISOString(),
      };
      const drawn = drawChecklist(plan, state);
      // Slack is edited only when what people see changed (soak minutes, a tick, a value).
      if (JSON.stringify(drawn) === JSON.stringify(drawChecklist(plan, row.state))) return;
      if (await this.edit(row, drawn)) await store.saveState(row.key, state, service.deps.now());
      return;
    }
    if (run.state === ROLLED_BACK) {
      const row = await store.message<RollbackState>(keys.rollback(run.id));
      if (!row || row.state.confirmed) return;
      const now = service.deps.now();
      const since = differenceInMilliseconds(now, row.state.event.at);
      if (since > CONFIRM_ROLLBACK_FOR_MS) return;
      const health = await service.reads.health();
      const confirmed = healthConfirms(plan, health, plan.rollbackWeights);
      // Before the plan's confirm window a missing confirmation is not news yet.
      if (!confirmed && (row.state.warned || since < plan.healthConfirmWithinMs)) return;
      const detail = `${healthSummary(plan, health)}${health.kind === 'read' && health.weights ? `; app reports ${weightsLine(plan, health.weights)}` : ''}`;
      const state: RollbackState = {
        ...row.state,
        confirmation: rollbackConfirmation(plan, confirmed, now, detail),
        confirmed,
        warned: !confirmed || row.state.warned,
      };
      const message = eventMessage(plan, state.event, { baseline: state.baseline, confirmation: state.confirmation });
      if (await this.edit(row, message)) await store.saveState(row.key, state, now);
    }
  }

  private async edit(at: { channel: string; ts: string }, message: { text: string; blocks: unknown[] }): Promise<boolean> {
    try {
      await this.deps.web.chat.update({ channel: at.channel, ts: at.ts, text: message.text, blocks: message.blocks as never });
      return true;
    } catch (err) {
      this.deps.log.warn('slack: live update failed; next pass retries', { error: failureText(classify(err)) });
      return false;
    }
  }
}
