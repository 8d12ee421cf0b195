import type { Plan } from '../../plan/plan.ts';
import { durationLabel, formatDuration } from '../../plan/duration.ts';
import type { AlertEpisode } from '../../core/alert-episodes.ts';
import { RED_LINE_LABELS, type LineEvaluation } from '../../core/red-lines.ts';
import { lineIcon, lineSummary } from '../format.ts';
import { rollbackButton } from './controls.ts';
import { actions, context, esc, hhmm, hhmmss, section, upper } from './common.ts';
import { fitMessage, type Message } from './limits.ts';

/** What the parent of an episode needs besides the episode: the red line as its first alert showed it. */
export interface EpisodeParent {
  episode: AlertEpisode;
  first: LineEvaluation;
  forMs: number;
  shadow: boolean;
}

const ms = (iso: string) => Date.parse(iso);

/** "breached 7 times in 42m, longest 3m 10s, now recovered" (no clock in it: it is true until the next edit). */
export function episodeSummary(p: EpisodeParent): string {
  const e = p.episode;
  const parts: string[] = [];
  if (e.breaches === 1) {
    if (e.recoveredAt) parts.push(`breached once for ${formatDuration(e.longestMs)}`);
  } else {
    const end = Math.max(ms(e.lastEventAt), e.rolledBackAt ? ms(e.rolledBackAt) : 0);
    parts.push(`breached ${e.breaches} times in ${formatDuration(end - ms(e.firstBreachAt))}`);
    if (e.longestMs > 0) parts.push(`longest ${formatDuration(e.longestMs)}`);
  }
  if (e.breachingSince) {
    const deadline =
      !p.shadow && !e.rolledBackAt ? ` (auto-rollback at ${hhmmss(new Date(ms(e.breachingSince) + p.forMs))} if it holds)` : '';
    parts.push(`breaching since ${hhmm(e.breachingSince)}${deadline}`);
  } else {
    parts.push('now recovered');
  }
  if (e.rolledBackAt) parts.push(`rolled back at ${hhmm(e.rolledBackAt)}`);
  return parts.join(', ');
}

/**
 * The episode's parent once it has a thread: its head says where the red line stands now, the
 * summary says how it got there, and each breach and recovery is in the thread.
 */
export function episodeParentMessage(plan: Plan, p: EpisodeParent): Message {
  const e = p.episode;
  const label = RED_LINE_LABELS[e.line];
  const stage = upper(e.stage);
  const head = e.rolledBackAt
    ? `:rewind: *${label} breached at ${stage}; rolled back at ${hhmm(e.rolledBackAt)}*`
    : e.breachingSince
      ? `:rotating_light: *${label} is in breach at ${stage}*`
      : `:large_green_circle: *${label} breached at ${stage}, now recovered*`;
  const summary = episodeSummary(p);
  const blocks = [
    section(head),
    section(`${summary[0].toUpperCase()}${summary.slice(1)}.${e.told > 1 ? ' Each later breach and recovery is in the thread.' : ''}`),
    context(
      `First breach ${hhmm(e.firstBreachAt)}: ${lineIcon(p.first)} ${esc(lineSummary(plan, p.first))} · red line's \`for\`: ${durationLabel(p.forMs)}`,
    ),
  ];
  if (p.shadow) blocks.push(context(':ghost: Shadow mode: the guard alerts only and never writes the flag.'));
  if (!e.rolledBackAt) blocks.push(actions(rollbackButton(e.runId, e.stage, 'Roll back now')));
  return fitMessage({ text: `[alert] ${label} at ${e.stage}: ${summary}.`, blocks });
}
