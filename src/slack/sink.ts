import type { Plan } from '../plan/plan.ts';
import type { RolloutEvent } from '../core/events.ts';
import type { EventSink } from '../engine/ports.ts';
import type { Logger } from '../log.ts';
import { approvalMessage } from '../render/blocks/approval.ts';
import { eventMessage, noticeMessage } from '../render/blocks/events.ts';
import { hhmm, upper } from '../render/blocks/common.ts';
import type { Message } from '../render/blocks/limits.ts';
import { drawChecklist, newChecklist, type ChecklistState, type RollbackState } from './checklist-state.ts';
import { episodeAlerts } from './episode-alerts.ts';
import { keys, type SlackStore } from './store.ts';
import { slackError, type WebClient } from './web.ts';

export interface SlackSinkDeps {
  plan: Plan;
  store: SlackStore;
  /** The cost baseline a run's red lines were judged against (the engine's: service.reads.runBaseline). */
  runBaseline: (runId: number) => Promise<number | null>;
  web: WebClient;
  channel: string;
  log: Logger;
  now: () => Date;
  /** Counts failed Slack calls by kind (Prometheus). */
  onSlackError?: (kind: string) => void;
}

type Opened = Extract<RolloutEvent, { kind: 'request_opened' }>;

/**
 * Shows outbox events in the rollout channel. A delivery may be retried after any failure, so
 * each post is recorded under a key and never made twice; edits (chat.update) are naturally
 * idempotent. A failure Slack may recover from throws DeliveryError, which stops the queue.
 */
export function slackSink(deps: SlackSinkDeps): EventSink {
  const { store, web, channel, log, now } = deps;

  /** Posts once per key; returns the message's ts (the earlier one on a retry). */
  async function postOnce(key: string, runId: number | null, message: Message, state: unknown, threadTs?: string): Promise<string> {
    const existing = await store.message(key);
    if (existing) return existing.ts;
    const ts = await post(message, threadTs);
    await store.saveMessage({ key, channel, ts, runId, state }, now());
    return ts;
  }

  async function post(message: Message, threadTs?: string): Promise<string> {
    const args = { channel, text: message.text, ...(threadTs ? { thread_ts: threadTs } : {}) };
    try {
      return (await web.chat.postMessage({ ...args, blocks: message.blocks })).ts as string;
    } catch (err) {
      const { failure, label } = slackError(err);
      deps.onSlackError?.(label);
      if (failure.kind === 'retry') throw failure.error;
      // A payload Slack will never take must not block the queue forever: send the words alone.
      log.error('slack refused a message; sending its text only', { code: failure.code });
      try {
        return (await web.chat.postMessage(args)).ts as string;
      } catch (again) {
        const { failure: f, label: l } = slackError(again);
        deps.onSlackError?.(l);
        throw f.kind === 'retry' ? f.error : again;
      }
    }
  }

  async function update(at: { channel: string; ts: string }, message: Message): Promise<void> {
    try {
      await web.chat.update({ channel: at.channel, ts: at.ts, text: message.text, blocks: message.blocks });
    } catch (err) {
      const { failure, label } = slackError(err);
      deps.onSlackError?.(label);
      if (failure.kind === 'retry') throw failure.error;
      // The message was deleted or cannot be edited; the event itself was shown when it was posted.
      log.warn('slack: could not edit a message', { code: failure.code, ts: at.ts });
    }
  }

  /** Freezes every open checklist of a run with why it ended. */
  async function endChecklists(runId: number, why: string, exceptKey?: string): Promise<void> {
    const { plan } = deps;
    for (const row of await store.runMessages<ChecklistState>(runId, 'checklist:')) {
      if (row.key === exceptKey || row.state.ended) continue;
      const state = { ...row.state, ended: why };
      await update(row, drawChecklist(plan, state));
      await store.saveState(row.key, state, now());
    }
  }

  const episodes = episodeAlerts({
    get plan() {
      return deps.plan;
    },
    store,
    channel,
    now,
    postOnce,
    update,
  });

  async function deliver(event: RolloutEvent, meta: { id: number }): Promise<void> {
    const { plan } = deps;
    switch (event.kind) {
      case 'request_opened':
        await postOnce(keys.request(event.request.id), event.request.runId, approvalMessage(plan, event, event.request, event.needed), {
          opened: event,
        });
        return;
      case 'request_updated': {
        const row = await store.message<{ opened: Opened }>(keys.request(event.request.id));
        if (row) {
          await update(row, approvalMessage(plan, row.state.opened, event.request, event.needed));
          await store.saveState(row.key, { ...row.state, current: event.request }, now());
        }
        return;
      }
      case 'stage_started': {
        const key = keys.checklist(event.runId, event.stage);
        const state = newChecklist(event);
        await postOnce(key, event.runId, drawChecklist(plan, state), state);
        await endChecklists(event.runId, `${upper(event.stage)} started at ${hhmm(event.at)}.`, key);
        return;
      }
      case 'breach_started':
      case 'breach_recovered':
        // A red line hovering at its threshold: one channel message per episode, the rest in its thread.
        await episodes.deliver(event, meta.id);
        return;
      case 'report': {
        // Threaded under the stage's checklist so the channel stays readable.
        const checklist = await store.message(keys.checklist(event.runId, event.stage));
        await postOnce(keys.event(meta.id), event.runId, eventMessage(plan, event), {}, checklist?.ts);
        return;
      }
      case 'auto_rollback':
      case 'manual_rollback': {
        const shadow = event.kind === 'auto_rollback' && event.shadow;
        // The alert names the run's baseline cost whichever red line fired: it is what "cost" was judged against.
        const baseline = await deps.runBaseline(event.runId);
        const ts = await postOnce(keys.event(meta.id), event.runId, eventMessage(plan, event, { baseline }), {});
        if (shadow) return;
        const state: RollbackState = { event, baseline, confirmation: null, confirmed: false, warned: false };
        if (!(await store.message(keys.rollback(event.runId))))
          await store.saveMessage({ key: keys.rollback(event.runId), channel, ts, runId: event.runId, state }, now());
        const how =
          event.kind === 'auto_rollback'
            ? 'auto-rollback'
            : event.byHand
              ? 'the flag was set to the rollback weights by hand'
              : 'manual rollback';
        await endChecklists(event.runId, `rolled back at ${hhmm(event.at)} (${how}); see the alert below.`);
        await episodes.rolledBack(event.runId, event.at);
        return;
      }
      case 'completed':
        await postOnce(keys.event(meta.id), event.runId, eventMessage(plan, event), {});
        await endChecklists(event.runId, `rollout completed at ${hhmm(event.at)}.`);
        return;
      case 'database_back':
        await postOnce(keys.event(meta.id), null, eventMessage(plan, event), {});
        return;
      default:
        await postOnce(keys.event(meta.id), event.runId, eventMessage(plan, event), {});
    }
  }

  return {
    deliver,
    async notice(text) {
      await post(noticeMessage(text));
    },
  };
}
