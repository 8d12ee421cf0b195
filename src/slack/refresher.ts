import { healthConfirms, healthSummary } from '../core/health.ts';
import { isActiveStage, nextStage, ROLLED_BACK } from '../core/state-machine.ts';
import { weightsLine } from '../render/format.ts';
import { describeError, isUnavailable } from '../engine/errors.ts';
import type { RolloutService } from '../engine/service.ts';
import type { Logger } from '../log.ts';
import * as store from '../db/store.ts';
import { checklistItems } from '../render/checklist.ts';
import { eventMessage, rollbackConfirmation } from '../render/blocks/events.ts';
import { drawChecklist, type ChecklistState, type RollbackState } from './checklist-state.ts';
import { getMessage, keys, saveState } from './messages.ts';
import { classify, type WebClient } from './web.ts';

/** How long after a rollback the bot keeps asking the health endpoint for the rollback weights. */
const CONFIRM_ROLLBACK_FOR_MS = 60 * 60_000;

export interface RefresherDeps {
  service: RolloutService;
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
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly deps: RefresherDeps) {}

  start(): void {
    this.timer = setInterval(() => void this.refresh(), this.deps.everyMs ?? this.deps.service.plan.evaluateEveryMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass; overlapping calls share it. */
  refresh(): Promise<void> {
    this.running ??= this.leaderPass()
      .catch((err) => {
        if (isUnavailable(err)) return; // the scheduler announces database outages
        this.deps.log.warn('checklist refresh failed', { error: describeError(err) });
      })
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async leaderPass(): Promise<void> {
    if (await this.deps.isLeader()) await this.pass();
  }

  private async pass(): Promise<void> {
    const { service } = this.deps;
    const { plan, db } = service.deps;
    const run = await store.latestRun(db.pool);
    if (!run) return;
    if (isActiveStage(plan, run.state)) {
      const row = await getMessage<ChecklistState>(db.pool, keys.checklist(run.id, run.state));
      if (!row || row.state.ended) return;
      const status = await service.status({ preferGuard: true });
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
      if (await this.edit(row, drawn)) await saveState(db.pool, row.key, state, service.deps.now());
      return;
    }
    if (run.state === ROLLED_BACK) {
      const row = await getMessage<RollbackState>(db.pool, keys.rollback(run.id));
      if (!row || row.state.confirmed) return;
      const now = service.deps.now();
      const since = now.getTime() - Date.parse(row.state.event.at);
      if (since > CONFIRM_ROLLBACK_FOR_MS) return;
      const health = await service.deps.health.read();
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
      if (await this.edit(row, message)) await saveState(db.pool, row.key, state, now);
    }
  }

  private async edit(at: { channel: string; ts: string }, message: { text: string; blocks: unknown[] }): Promise<boolean> {
    try {
      await this.deps.web.chat.update({ channel: at.channel, ts: at.ts, text: message.text, blocks: message.blocks as never });
      return true;
    } catch (err) {
      const f = classify(err);
      this.deps.log.warn('slack: live update failed; next pass retries', { error: f.kind === 'retry' ? f.error.message : f.code });
      return false;
    }
  }
}
