import type { Plan } from '../plan/plan.ts';
import type { RolloutEvent } from '../core/events.ts';
import { advanceEpisode, rollEpisodeBack, type EpisodeEvent } from '../core/alert-episodes.ts';
import { eventMessage } from '../render/blocks/events.ts';
import { episodeParentMessage, type EpisodeParent } from '../render/blocks/episodes.ts';
import type { Message } from '../render/blocks/limits.ts';
import { keys, type SlackStore } from './store.ts';

type Breach = Extract<RolloutEvent, { kind: 'breach_started' | 'breach_recovered' }>;

export interface EpisodeAlertDeps {
  plan: Plan;
  store: SlackStore;
  channel: string;
  now: () => Date;
  postOnce(key: string, runId: number | null, message: Message, state: unknown, threadTs?: string): Promise<string>;
  update(at: { channel: string; ts: string }, message: Message): Promise<void>;
}

/**
 * Breach alerts told as episodes (see core/alert-episodes.ts). The episode lives with its parent
 * message under 'episode:<run>:<red line>', so whichever replica leads next continues it. Each
 * step is safe to repeat: the reply is posted once per outbox event, the parent edit is an
 * overwrite, and the episode records the last outbox id it counted.
 */
export function episodeAlerts(deps: EpisodeAlertDeps) {
  const { store, channel, now, postOnce, update } = deps;

  async function deliver(event: Breach, outboxId: number): Promise<void> {
    const { plan } = deps;
    const key = keys.episode(event.runId, event.line.name);
    const row = await store.message<EpisodeParent>(key);
    const base = { outboxId, runId: event.runId, line: event.line.name, stage: event.stage, at: event.at };
    const told: EpisodeEvent =
      event.kind === 'breach_started' ? { kind: event.kind, ...base } : { kind: event.kind, ...base, breachSince: event.breachSince };
    const step = advanceEpisode(row?.state.episode ?? null, told);
    if (step.action === 'already_applied') return;
    if (step.action === 'new_parent' || !row) {
      const ts = await postOnce(keys.event(outboxId), event.runId, eventMessage(plan, event), {});
      const state: EpisodeParent = {
        episode: step.episode,
        first: event.line,
        forMs: plan.redLines[event.line.name].forMs,
        shadow: event.kind === 'breach_started' ? event.shadow : !plan.autoRollback,
      };
      await store.saveMessage({ key, channel, ts, runId: event.runId, state }, now());
      return;
    }
    await postOnce(keys.event(outboxId), event.runId, eventMessage(plan, event), {}, row.ts);
    const state: EpisodeParent = { ...row.state, episode: step.episode };
    await update(row, episodeParentMessage(plan, state));
    await store.saveState(key, state, now());
  }

  /** The run was rolled back: its open episodes say so, and lose their Roll back now button. */
  async function rolledBack(runId: number, at: string): Promise<void> {
    const { plan } = deps;
    for (const row of await store.runMessages<EpisodeParent>(runId, 'episode:')) {
      const episode = rollEpisodeBack(row.state.episode, at);
      if (!episode) continue;
      const state: EpisodeParent = { ...row.state, episode };
      await update(row, episodeParentMessage(plan, state));
      await store.saveState(row.key, state, now());
    }
  }

  return { deliver, rolledBack };
}
