import { describe, expect, it } from 'vitest';
import {
  advanceEpisode,
  rollEpisodeBack,
  type AlertEpisode,
  type EpisodeAction,
  type EpisodeEvent,
} from '../../src/core/alert-episodes.ts';
import { episodeParentMessage, episodeSummary, type EpisodeParent } from '../../src/render/blocks/episodes.ts';
import type { LineEvaluation } from '../../src/core/red-lines.ts';
import { defaultPlan } from '../../src/plan/plan.ts';

const at = (hhmmss: string) => `2026-11-28T${hhmmss.length === 5 ? `${hhmmss}:00` : hhmmss}.000Z`;

/**
 * A timeline in words: "B 10:00" a breach starts, "R 10:03" it recovers (its breachSince is the
 * last breach of that line), optionally "@d2" for the stage and "#p95LatencyMs" for the line.
 * Outbox ids follow the order.
 */
function events(timeline: string[]): EpisodeEvent[] {
  const since: Record<string, string> = {};
  return timeline.map((step, i) => {
    const [kind, time, ...rest] = step.split(' ');
    const stage = rest.find((r) => r.startsWith('@'))?.slice(1) ?? 'd1';
    const line = (rest.find((r) => r.startsWith('#'))?.slice(1) ?? 'failureRatePercent') as EpisodeEvent['line'];
    const base = { outboxId: i + 1, runId: 1, line, stage, at: at(time) };
    if (kind === 'B') {
      since[line] = base.at;
      return { kind: 'breach_started', ...base };
    }
    const given = rest.find((r) => r.startsWith('since='))?.slice('since='.length);
    return { kind: 'breach_recovered', ...base, breachSince: given ? at(given) : since[line] };
  });
}

function play(timeline: string[], from: AlertEpisode | null = null): { actions: EpisodeAction[]; episode: AlertEpisode | null } {
  let episode = from;
  const actions: EpisodeAction[] = [];
  for (const e of events(timeline)) {
    const step = advanceEpisode(episode, e);
    actions.push(step.action);
    episode = step.episode;
  }
  return { actions, episode };
}

const MIN = 60_000;
const R = 'reply_in_thread_and_edit_parent' as const;
const N = 'new_parent' as const;

describe('advanceEpisode: which breach alerts join a thread', () => {
  const cases: { name: string; timeline: string[]; actions: EpisodeAction[]; episode: Partial<AlertEpisode> }[] = [
    {
      name: 'the first breach of a red line is a new parent',
      timeline: ['B 10:00'],
      actions: [N],
      episode: { breaches: 1, firstBreachAt: at('10:00'), breachingSince: at('10:00'), recoveredAt: null, longestMs: 0 },
    },
    {
      name: 'its recovery goes in the thread and sets the longest breach',
      timeline: ['B 10:00', 'R 10:03:10'],
      actions: [N, R],
      episode: { breaches: 1, breachingSince: null, recoveredAt: at('10:03:10'), longestMs: 3 * MIN + 10_000 },
    },
    {
      name: 'a fault hovering at the threshold stays one episode',
      timeline: ['B 10:00', 'R 10:02', 'B 10:10', 'R 10:13', 'B 10:40', 'R 10:41'],
      actions: [N, R, R, R, R, R],
      episode: { breaches: 3, told: 6, longestMs: 3 * MIN, firstBreachAt: at('10:00'), lastEventAt: at('10:41'), lastOutboxId: 6 },
    },
    {
      name: 'the window counts from the last breach or recovery, not from the first breach',
      timeline: ['B 10:00', 'R 10:01', 'B 10:25', 'R 10:26', 'B 10:56'],
      actions: [N, R, R, R, R],
      episode: { breaches: 3, breachingSince: at('10:56'), firstBreachAt: at('10:00') },
    },
    {
      name: 'exactly 30 min after the last event still joins',
      timeline: ['B 10:00', 'R 10:01', 'B 10:31'],
      actions: [N, R, R],
      episode: { breaches: 2 },
    },
    {
      name: 'a breach more than 30 min after the last event starts a new episode',
      timeline: ['B 10:00', 'R 10:01', 'B 10:31:01'],
      actions: [N, R, N],
      episode: { breaches: 1, told: 1, firstBreachAt: at('10:31:01'), longestMs: 0, lastOutboxId: 3 },
    },
    {
      name: 'a recovery always joins the breach it ends, however long that breach held (shadow mode)',
      timeline: ['B 10:00', 'R 10:45'],
      actions: [N, R],
      episode: { breaches: 1, longestMs: 45 * MIN, recoveredAt: at('10:45') },
    },
    {
      name: 'a breach at the next stage is a new alert, even within the window',
      timeline: ['B 10:00 @d1', 'R 10:02 @d1', 'B 10:05 @d2'],
      actions: [N, R, N],
      episode: { stage: 'd2', breaches: 1 },
    },
    {
      name: 'another red line never joins',
      timeline: ['B 10:00', 'B 10:01 #p95LatencyMs'],
      actions: [N, N],
      episode: { line: 'p95LatencyMs', breaches: 1 },
    },
    {
      name: 'a recovery with no episode (its breach was told before) opens one that counts that breach',
      timeline: ['R 10:05 since=10:02'],
      actions: [N],
      episode: { breaches: 1, firstBreachAt: at('10:02'), longestMs: 3 * MIN, breachingSince: null, recoveredAt: at('10:05') },
    },
  ];
  it.each(cases)('$name', ({ timeline, actions, episode }) => {
    const played = play(timeline);
    expect(played.actions).toEqual(actions);
    expect(played.episode).toMatchObject(episode);
  });

  it('a retried delivery of an event already counted changes nothing', () => {
    const [b, r] = events(['B 10:00', 'R 10:02']);
    const first = advanceEpisode(null, b).episode;
    const second = advanceEpisode(first, r).episode;
    expect(advanceEpisode(second, r)).toEqual({ episode: second, action: 'already_applied' });
    expect(advanceEpisode(second, b)).toEqual({ episode: second, action: 'already_applied' });
    expect(second.breaches).toBe(1);
  });

  it('after a rollback the episode is closed: a later breach of the run is a new parent', () => {
    const { episode } = play(['B 10:00', 'R 10:02']);
    const closed = rollEpisodeBack(episode!, at('10:05'))!;
    expect(closed.rolledBackAt).toBe(at('10:05'));
    const next = advanceEpisode(closed, {
      kind: 'breach_started',
      outboxId: 9,
      runId: 1,
      line: 'failureRatePercent',
      stage: 'd1',
      at: at('10:06'),
    });
    expect(next.action).toBe('new_parent');
  });
});

describe('rollEpisodeBack', () => {
  const base = play(['B 10:00', 'R 10:02']).episode!;
  it.each([
    { name: 'a breaching episode records the rollback', episode: play(['B 10:00']).episode!, at: '11:00', rolled: true },
    { name: 'a recovered episode within the window records it', episode: base, at: '10:32', rolled: true },
    { name: 'an episode over for more than the window is left alone', episode: base, at: '10:32:01', rolled: false },
    { name: 'one already rolled back is left alone', episode: { ...base, rolledBackAt: at('10:03') }, at: '10:04', rolled: false },
  ])('$name', ({ episode, at: when, rolled }) => {
    const out = rollEpisodeBack(episode, at(when));
    expect(out === null ? null : out.rolledBackAt).toBe(rolled ? at(when) : null);
  });
});

describe('the episode parent', () => {
  const plan = defaultPlan();
  const first: LineEvaluation = {
    name: 'failureRatePercent',
    state: 'breach',
    value: 2.4,
    threshold: 2,
    windowMs: 5 * MIN,
    samples: 300,
    candidateRequests: 300,
    fromValue: null,
  };
  const parent = (timeline: string[], extra: Partial<EpisodeParent> = {}): EpisodeParent => ({
    episode: play(timeline).episode!,
    first,
    forMs: 5 * MIN,
    shadow: false,
    ...extra,
  });
  const hovering = [
    'B 10:00',
    'R 10:03:10',
    'B 10:10',
    'R 10:11',
    'B 10:20',
    'R 10:21',
    'B 10:25',
    'R 10:26',
    'B 10:30',
    'R 10:31',
    'B 10:35',
    'R 10:36',
    'B 10:40',
    'R 10:42',
  ];

  it.each([
    { name: 'recovered after flapping', p: parent(hovering), text: 'breached 7 times in 42m, longest 3m 10s, now recovered' },
    {
      name: 'breaching again',
      p: parent(['B 10:00', 'R 10:02', 'B 10:30']),
      text: 'breached 2 times in 30m, longest 2m, breaching since 10:30 UTC (auto-rollback at 10:35:00 UTC if it holds)',
    },
    {
      name: 'breaching in shadow mode',
      p: parent(['B 10:00', 'R 10:02', 'B 10:30'], { shadow: true }),
      text: 'breached 2 times in 30m, longest 2m, breaching since 10:30 UTC',
    },
    { name: 'a single breach that recovered', p: parent(['B 10:00', 'R 10:03:10']), text: 'breached once for 3m 10s, now recovered' },
    {
      name: 'a single breach rolled back',
      p: (() => {
        const p = parent(['B 10:00']);
        return { ...p, episode: rollEpisodeBack(p.episode, at('10:05'))! };
      })(),
      text: 'breaching since 10:00 UTC, rolled back at 10:05 UTC',
    },
    {
      name: 'rolled back while breaching',
      p: (() => {
        const p = parent(['B 10:00', 'R 10:02', 'B 10:30']);
        return { ...p, episode: rollEpisodeBack(p.episode, at('10:35'))! };
      })(),
      text: 'breached 2 times in 35m, longest 2m, breaching since 10:30 UTC, rolled back at 10:35 UTC',
    },
  ])('says the episode so far: $name', ({ p, text }) => {
    expect(episodeSummary(p)).toBe(text);
  });

  it('heads with where the red line stands now and keeps Roll back now until the run is rolled back', () => {
    const recovered = episodeParentMessage(plan, parent(hovering));
    expect(recovered.text).toBe('[alert] failure rate at d1: breached 7 times in 42m, longest 3m 10s, now recovered.');
    expect(JSON.stringify(recovered.blocks[0])).toContain('failure rate breached at D1, now recovered');
    expect(recovered.blocks.at(-1)!.type).toBe('actions');
    expect(JSON.stringify(recovered.blocks[1])).toContain('Each later breach and recovery is in the thread.');
    const p = parent(['B 10:00', 'R 10:02', 'B 10:30']);
    expect(JSON.stringify(episodeParentMessage(plan, p).blocks[0])).toContain(':rotating_light: *failure rate is in breach at D1*');
    const rolled = episodeParentMessage(plan, { ...p, episode: rollEpisodeBack(p.episode, at('10:35'))! });
    expect(JSON.stringify(rolled.blocks[0])).toContain('rolled back at 10:35 UTC');
    expect(rolled.blocks.some((b) => b.type === 'actions')).toBe(false);
    // A single breach rolled back has no thread to point to.
    const alone = parent(['B 10:00']);
    const aloneRolled = episodeParentMessage(plan, { ...alone, episode: rollEpisodeBack(alone.episode, at('10:05'))! });
    expect(JSON.stringify(aloneRolled.blocks[1])).not.toContain('thread');
  });
});
