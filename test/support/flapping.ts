import { guardCycle } from '../../src/engine/guard.ts';
import { MINUTE } from './clock.ts';
import { planWith } from './engine.ts';
import type { SlackHarness } from './slack-bot.ts';
import { feed, type Health } from './traffic.ts';

/**
 * A fault hovering at the failure-rate threshold, one evaluation a minute: what
 * slack-flapping.test.ts (the alerts) and slack-episode-charts.test.ts (the charts) replay.
 */
export const flappingPlan = planWith({
  approvals: 0,
  minSamples: 20,
  evaluateEvery: '1m',
  baselineCostPerImage: 0.005,
  redLines: {
    p95LatencyMs: { threshold: 8000, window: '1m', for: '5m' },
    failureRatePercent: { threshold: 2, window: '1m', for: '5m' },
    costPerImageRatio: { threshold: 1.2, window: '1h', for: '10m' },
    regenerateRatePercent: { threshold: 5, window: '1h', for: '10m' },
  },
});

export const HEALTHY: Health = { perMinute: 120, latencyMs: 1500, failureShare: 0, cost: 0.005 };
export const FAILING: Health = { perMinute: 120, latencyMs: 1500, failureShare: 0.5, cost: 0.005 };

/** One evaluation a minute with this traffic, delivered to Slack (and its charts shared, when on) as the leader would. */
export async function minutes(h: SlackHarness, n: number, health: Health): Promise<void> {
  for (let i = 0; i < n; i++) {
    const from = h.clock.now();
    const to = h.clock.advance(MINUTE);
    await feed(h.db.app, from, to, health, { perMinute: 240, latencyMs: 1200, cost: 0.005 });
    await guardCycle(h.service);
    await h.flush();
    await h.front.charts?.flush();
  }
}

/** 2 minutes failing, 4 healthy, over and over: each burst ends well before the 5-minute `for`. */
export async function hover(h: SlackHarness, totalMinutes: number): Promise<void> {
  for (let m = 0; m < totalMinutes; m += 6) {
    await minutes(h, 2, FAILING);
    await minutes(h, 4, HEALTHY);
  }
}
