import { describe, expect, it } from 'vitest';
import type { AlertEpisode } from '../../src/core/alert-episodes.ts';
import { chartRequestFor, episodeChartRequest } from '../../src/core/chart-requests.ts';
import type { RolloutEvent } from '../../src/core/events.ts';
import type { LineEvaluation } from '../../src/core/red-lines.ts';
import { defaultPlan } from '../../src/plan/plan.ts';

const plan = defaultPlan();
const MIN = 60_000;
const line = {
  name: 'p95LatencyMs',
  state: 'breach',
  value: 9_000,
  threshold: 8_000,
  windowMs: 5 * MIN,
  samples: 60,
  candidateRequests: 60,
  fromValue: 3_000,
} as LineEvaluation;
const started: Extract<RolloutEvent, { kind: 'stage_started' }> = {
  kind: 'stage_started',
  runId: 1,
  stage: 'd1',
  weights: { fal: 0.9, runware: 0.1 },
  previousWeights: { fal: 1, runware: 0 },
  by: 'U1',
  approvers: ['U2'],
  forced: false,
  at: '2026-11-28T10:00:00.000Z',
};
const ms = (iso: string) => Date.parse(iso);

describe('the chart each event gets', () => {
  it('an auto-rollback: its red line, crossed `held` before it fired, over 2×for + window before it', () => {
    const e: RolloutEvent = {
      kind: 'auto_rollback',
      runId: 1,
      stage: 'd2',
      line,
      heldMs: 5 * MIN,
      others: [],
      weights: { fal: 1, runware: 0 },
      shadow: false,
      at: '2026-11-28T11:11:00.000Z',
    };
    expect(chartRequestFor(plan, e, null)).toEqual({
      kind: 'alert',
      runId: 1,
      line: 'p95LatencyMs',
      what: 'Automatic rollback',
      crossedAtMs: ms('2026-11-28T11:06:00Z'),
      firedAtMs: ms('2026-11-28T11:11:00Z'),
      fromMs: ms('2026-11-28T10:56:00Z'),
      toMs: ms('2026-11-28T11:11:00Z'),
    });
  });

  it('a breach alert ends at the bucket holding its moment, so the moment is on the chart', () => {
    const e: RolloutEvent = {
      kind: 'breach_started',
      runId: 1,
      stage: 'd1',
      line,
      forMs: 5 * MIN,
      at: '2026-11-28T10:36:07.250Z',
      shadow: false,
    };
    const r = chartRequestFor(plan, e, null)!;
    expect(r).toMatchObject({
      kind: 'alert',
      line: 'p95LatencyMs',
      what: 'Breach',
      firedAtMs: null,
      crossedAtMs: ms('2026-11-28T10:36:07.250Z'),
    });
    expect(r.toMs).toBeGreaterThanOrEqual(ms('2026-11-28T10:36:07.250Z'));
    expect(r.toMs - ms('2026-11-28T10:36:07.250Z')).toBeLessThan(plan.evaluateEveryMs);
  });

  it('a manual rollback names no red line and looks back as far as the slowest one', () => {
    const e: RolloutEvent = {
      kind: 'manual_rollback',
      runId: 1,
      stage: 'd1',
      by: 'U3',
      via: 'slack',
      reason: null,
      weights: { fal: 1, runware: 0 },
      byHand: false,
      at: '2026-11-28T12:00:00.000Z',
    };
    const r = chartRequestFor(plan, e, null)!;
    const slowest = Math.max(...Object.values(plan.redLines).map((l) => 2 * l.forMs + l.windowMs));
    expect(r).toMatchObject({
      kind: 'alert',
      line: null,
      what: 'Manual rollback',
      firedAtMs: ms('2026-11-28T12:00:00Z'),
      fromMs: ms('2026-11-28T12:00:00Z') - slowest,
    });
  });

  it('a report: the stage so far, at least 30 min and at most 24 h, marked at the stage start', () => {
    const report = (at: string): RolloutEvent => ({
      kind: 'report',
      runId: 1,
      stage: 'd1',
      current: { at, lines: [], split: { windowMs: 5 * MIN, total: 0, shares: {} } },
      previous: null,
      at,
    });
    expect(chartRequestFor(plan, report('2026-11-28T11:00:00.000Z'), started)).toEqual({
      kind: 'stage',
      runId: 1,
      title: 'Stage D1 so far: FAL 90% / Runware 10%',
      marks: [{ atMs: ms('2026-11-28T10:00:00Z'), label: 'D1 start' }],
      fromMs: ms('2026-11-28T10:00:00Z'),
      toMs: ms('2026-11-28T11:00:00Z'),
    });
    expect(chartRequestFor(plan, report('2026-11-28T10:10:00.000Z'), started)).toMatchObject({ fromMs: ms('2026-11-28T09:40:00Z') });
    expect(chartRequestFor(plan, report('2026-11-30T10:00:00.000Z'), started)).toMatchObject({ fromMs: ms('2026-11-29T10:00:00Z') });
  });

  it('requests, checklists and other events get none', () => {
    expect(chartRequestFor(plan, { kind: 'completed', runId: 1, by: 'U1', at: '2026-11-28T12:00:00.000Z' }, null)).toBeNull();
    expect(chartRequestFor(plan, started, null)).toBeNull();
  });
});

describe('the chart of a whole breach episode', () => {
  const episode: AlertEpisode = {
    runId: 1,
    line: 'failureRatePercent',
    stage: 'd1',
    firstBreachAt: '2026-11-28T10:04:00.000Z',
    breaches: 3,
    told: 6,
    longestMs: 2 * MIN,
    breachingSince: null,
    recoveredAt: '2026-11-28T10:18:00.000Z',
    lastEventAt: '2026-11-28T10:18:00.000Z',
    lastOutboxId: 9,
    rolledBackAt: null,
  };

  it('spans from the lead before the first breach to the last recovery, and says how often it breached', () => {
    const req = episodeChartRequest(plan, episode);
    expect(req).toMatchObject({
      kind: 'alert',
      runId: 1,
      line: 'failureRatePercent',
      crossedAtMs: ms(episode.firstBreachAt),
      firedAtMs: null,
    });
    const r = req as Extract<typeof req, { kind: 'alert' }>;
    // 2 × for (5m) + window (5m) before the first breach, as every breach chart.
    expect(r.fromMs).toBe(ms(episode.firstBreachAt) - 15 * MIN);
    expect(r.toMs).toBeGreaterThan(ms(episode.lastEventAt));
    expect(r.what).toBe('D1: breached 3 times in 14m');
  });

  it('an episode a rollback ended runs to the rollback, marked as fired', () => {
    const req = episodeChartRequest(plan, {
      ...episode,
      breachingSince: '2026-11-28T10:20:00.000Z',
      rolledBackAt: '2026-11-28T10:25:00.000Z',
    });
    expect(req).toMatchObject({ firedAtMs: ms('2026-11-28T10:25:00.000Z'), what: 'D1: breached 3 times in 21m, then rolled back' });
  });
});
