import type { RedLineName } from '../plan/plan.ts';

/**
 * A red line hovering at its threshold breaches and recovers many times an hour. The guard keeps
 * the runbook's `for` semantics untouched; this only decides how the channel is told: the first
 * breach is a channel message (the episode's parent), and every later breach or recovery of the
 * same red line that comes within the window of the episode's previous one joins its thread.
 */
export const EPISODE_WINDOW_MS = 30 * 60_000;

export interface AlertEpisode {
  runId: number;
  line: RedLineName;
  stage: string;
  firstBreachAt: string;
  /** breach_started events counted, the first included. */
  breaches: number;
  /** Breaches and recoveries told in the episode: the parent, then its thread replies. */
  told: number;
  /** The longest breach that has recovered (an ongoing one is not over yet). */
  longestMs: number;
  breachingSince: string | null;
  recoveredAt: string | null;
  /** The episode's last breach or recovery: the window is counted from it. */
  lastEventAt: string;
  /** Outbox id of the last event applied: a retried delivery must not count twice. */
  lastOutboxId: number;
  /** Set when the run was rolled back while the episode was open. */
  rolledBackAt: string | null;
}

export type EpisodeEvent =
  | { kind: 'breach_started'; outboxId: number; runId: number; line: RedLineName; stage: string; at: string }
  | { kind: 'breach_recovered'; outboxId: number; runId: number; line: RedLineName; stage: string; at: string; breachSince: string };

export type EpisodeAction = 'new_parent' | 'reply_in_thread_and_edit_parent' | 'already_applied';

const ms = (iso: string) => Date.parse(iso);

/**
 * Where an event goes. It joins the episode when it is of the same run, red line and stage and
 * comes at most `windowMs` after the episode's last breach or recovery, and the run was not
 * rolled back meanwhile; a recovery always joins the episode whose breach it ends, however long
 * that breach lasted. Anything else starts a new episode with a new parent message.
 */
export function advanceEpisode(
  episode: AlertEpisode | null,
  event: EpisodeEvent,
  windowMs = EPISODE_WINDOW_MS,
): { episode: AlertEpisode; action: EpisodeAction } {
  if (episode && event.outboxId <= episode.lastOutboxId) return { episode, action: 'already_applied' };
  if (episode && joins(episode, event, windowMs)) return { episode: apply(episode, event), action: 'reply_in_thread_and_edit_parent' };
  return { episode: start(event), action: 'new_parent' };
}

function joins(e: AlertEpisode, event: EpisodeEvent, windowMs: number): boolean {
  if (e.runId !== event.runId || e.line !== event.line) return false;
  if (event.kind === 'breach_recovered' && e.breachingSince === event.breachSince) return true;
  return e.rolledBackAt === null && e.stage === event.stage && ms(event.at) - ms(e.lastEventAt) <= windowMs;
}

function apply(e: AlertEpisode, event: EpisodeEvent): AlertEpisode {
  const base = { ...e, told: e.told + 1, lastEventAt: event.at, lastOutboxId: event.outboxId };
  if (event.kind === 'breach_started') {
    // Already breaching cannot happen with the guard's clocks; counting it keeps the number honest anyway.
    return { ...base, breaches: e.breaches + 1, breachingSince: event.at, recoveredAt: null };
  }
  const heldMs = ms(event.at) - ms(event.breachSince);
  return { ...base, longestMs: Math.max(e.longestMs, heldMs), breachingSince: null, recoveredAt: event.at };
}

function start(event: EpisodeEvent): AlertEpisode {
  const common = {
    runId: event.runId,
    line: event.line,
    stage: event.stage,
    lastEventAt: event.at,
    lastOutboxId: event.outboxId,
    rolledBackAt: null,
    breaches: 1,
    told: 1,
  };
  if (event.kind === 'breach_started') {
    return { ...common, firstBreachAt: event.at, longestMs: 0, breachingSince: event.at, recoveredAt: null };
  }
  // A recovery whose breach has no episode (its parent predates this feature or was lost): it opens one.
  return {
    ...common,
    firstBreachAt: event.breachSince,
    longestMs: ms(event.at) - ms(event.breachSince),
    breachingSince: null,
    recoveredAt: event.at,
  };
}

/**
 * The run was rolled back at `at`: an episode still open then (breaching, or its last event
 * within the window) records it; a finished one is left alone (null).
 */
export function rollEpisodeBack(e: AlertEpisode, at: string, windowMs = EPISODE_WINDOW_MS): AlertEpisode | null {
  if (e.rolledBackAt !== null) return null;
  if (e.breachingSince === null && ms(at) - ms(e.lastEventAt) > windowMs) return null;
  return { ...e, rolledBackAt: at };
}
