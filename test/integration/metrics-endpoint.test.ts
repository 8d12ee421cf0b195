import { afterAll, beforeAll, expect, it } from 'vitest';
import { ACTION } from '../../src/render/blocks/buttons.ts';
import { alice, bob, planWith } from '../support/engine.ts';
import { steadyTraffic } from '../support/traffic.ts';
import { slackHarness, type SlackHarness } from '../support/slack-bot.ts';
import { scrape } from '../support/prometheus.ts';
import { rolloutMetrics } from '../../src/adapters/metrics.ts';
import { startMetricsServer } from '../../src/adapters/metrics-server.ts';

/**
 * GET /metrics on the Slack HTTP port, through Bolt's real receiver, parsed as Prometheus
 * parses it, along a scripted D1 → latency breach → auto-rollback.
 */
let h: SlackHarness;
beforeAll(async () => {
  h = await slackHarness({ plan: planWith({ baselineCostPerImage: 0.04 }) });
});
afterAll(() => h.close());

const at = (hhmm: string) => new Date(`2026-11-28T${hhmm}:00Z`);

/** 200 requests a minute, 10 % to Runware as D1 routes them. */
async function traffic(end: string, minutes: number, runwareLatencyMs: number) {
  await steadyTraffic(h.db.app, { provider: 'fal', end: at(end), minutes, perMinute: 180, latencyMs: 3_100, cost: 0.04 });
  await steadyTraffic(h.db.app, { provider: 'runware', end: at(end), minutes, perMinute: 20, latencyMs: runwareLatencyMs, cost: 0.036 });
}

it('reports the stage, weights, red lines, counters and outbox along D1 → breach → rollback', async () => {
  await h.reset();
  h.setHealth(h.healthReporting({ fal: 1, runware: 0 }));

  const idle = await scrape(h.port);
  expect(idle.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  expect(idle.value('rollout_leader')).toBe(1);
  expect(idle.value('rollout_stage_info', { stage: 'idle' })).toBe(1);
  expect(idle.family('rollout_red_line_value')?.metrics ?? []).toEqual([]);
  expect(idle.family('process_resident_memory_bytes')?.type).toBe('GAUGE');

  await h.command(alice.id, 'd1');
  await h.command(alice.id, 'approve'); // the two-person rule refuses it
  await h.click(bob.id, ACTION.approve, h.buttonValue(ACTION.approve));
  await h.flush();
  h.setHealth(h.healthReporting({ fal: 0.9, runware: 0.1 }));

  h.clock.set('2026-11-28T10:30:00Z');
  await traffic('10:25', 25, 2_400);
  await traffic('10:30', 5, 9_000);
  await h.front.scheduler.tick();
  await h.flush();

  const breach = await scrape(h.port);
  expect(breach.value('rollout_stage_info', { stage: 'd1', run: '1' })).toBe(1);
  expect(breach.value('rollout_weight_ratio', { provider: 'runware', source: 'flag' })).toBe(0.1);
  expect(breach.value('rollout_weight_ratio', { provider: 'runware', source: 'health' })).toBe(0.1);
  expect(breach.value('rollout_weight_ratio', { provider: 'fal', source: 'flag' })).toBe(0.9);
  expect(breach.value('rollout_soak_remaining_seconds')).toBe(30 * 60); // D1 soaks 1 h; 30 min gone
  expect(breach.value('rollout_red_line_value', { red_line: 'p95LatencyMs', provider: 'runware' })).toBe(9_000);
  expect(breach.value('rollout_red_line_value', { red_line: 'p95LatencyMs', provider: 'fal' })).toBe(3_100);
  expect(breach.value('rollout_red_line_threshold', { red_line: 'p95LatencyMs' })).toBe(8_000);
  expect(breach.value('rollout_red_line_samples', { red_line: 'p95LatencyMs', provider: 'runware' })).toBe(100);
  expect(breach.value('rollout_red_line_state', { red_line: 'p95LatencyMs', state: 'breach' })).toBe(1);
  expect(breach.value('rollout_red_line_state', { red_line: 'p95LatencyMs', state: 'ok' })).toBe(0);
  expect(breach.value('rollout_red_line_state', { red_line: 'failureRatePercent', state: 'ok' })).toBe(1);
  expect(breach.value('rollout_red_line_breach_seconds', { red_line: 'p95LatencyMs' })).toBe(0);
  expect(breach.value('rollout_breach_episodes_total', { red_line: 'p95LatencyMs' })).toBe(1);
  expect(breach.value('rollout_promotions_total', { stage: 'd1', forced: 'false' })).toBe(1);
  expect(breach.value('rollout_approvals_total')).toBe(1);
  expect(breach.value('rollout_refusals_total', { code: 'self_approval' })).toBe(1);
  expect(breach.text).toContain('rollout_request_decision_seconds_count{decision="approved"} 1');
  expect(breach.buckets('rollout_request_decision_seconds')).toMatchObject({ 30: 1, '+Inf': 1 }); // approved at once on the fake clock
  expect(breach.value('rollout_outbox_depth')).toBe(0);

  // Slack fails the rollback alert once: the event waits in the outbox and the failure is counted.
  h.clock.set('2026-11-28T10:35:00Z');
  await traffic('10:35', 5, 9_000);
  h.fake.failNext({ status: 500 });
  await h.front.scheduler.tick();
  await h.flush();

  const rolledBack = await scrape(h.port);
  expect(rolledBack.value('rollout_rollbacks_total', { kind: 'auto', red_line: 'p95LatencyMs' })).toBe(1);
  expect(rolledBack.samples('rollout_rollbacks_total', { kind: 'manual' })).toEqual([]);
  expect(rolledBack.value('rollout_stage_info', { stage: 'rolled_back', run: '1' })).toBe(1);
  expect(rolledBack.value('rollout_weight_ratio', { provider: 'runware', source: 'flag' })).toBe(0);
  expect(rolledBack.family('rollout_red_line_value')?.metrics ?? []).toEqual([]); // no stage is judged any more
  expect(rolledBack.family('rollout_soak_remaining_seconds')?.metrics ?? []).toEqual([]);
  expect(rolledBack.value('rollout_slack_delivery_errors_total', { kind: 'http_error' })).toBe(1);
  expect(rolledBack.value('rollout_outbox_depth')).toBe(1);
  expect(rolledBack.value('rollout_outbox_oldest_age_seconds')).toBe(0);
  expect(rolledBack.text).toContain('rollout_stage_seconds_sum{stage="d1",ended="rolled_back"} 2100'); // 10:00 → 10:35
  expect(rolledBack.buckets('rollout_stage_seconds')).toMatchObject({ 1800: 0, 3600: 1, '+Inf': 1 });
  const cycles = (await h.front.metrics.registry.getSingleMetric('rollout_guard_cycle_seconds')!.get()).values;
  const counted = (result: string) =>
    cycles.find((v) => (v as { metricName?: string }).metricName === 'rollout_guard_cycle_seconds_count' && v.labels.result === result)
      ?.value;
  expect([counted('idle'), counted('evaluated'), counted('rolled_back')]).toEqual([1, 1, 1]); // reset()'s tick, the breach, the rollback

  h.clock.set('2026-11-28T10:36:00Z');
  await h.flush();
  const delivered = await scrape(h.port);
  expect(delivered.value('rollout_outbox_depth')).toBe(0);
  expect(delivered.value('rollout_rollbacks_total', { kind: 'auto', red_line: 'p95LatencyMs' })).toBe(1);
});

it('a standby reports rollout_leader 0 and none of the rollout gauges; console mode serves /metrics on its own port', async () => {
  await h.reset();
  await h.command(alice.id, 'd1');
  await h.flush();
  await h.click(bob.id, ACTION.approve, h.buttonValue(ACTION.approve));
  const standby = rolloutMetrics({ service: h.service, isLeader: () => false });
  const server = await startMetricsServer(standby, 0, async () => true);
  try {
    const seen = await scrape(server.port);
    expect(seen.value('rollout_leader')).toBe(0);
    for (const name of [
      'rollout_stage_info',
      'rollout_weight_ratio',
      'rollout_red_line_state',
      'rollout_outbox_depth',
      'rollout_outbox_oldest_age_seconds',
      'rollout_soak_remaining_seconds',
    ]) {
      expect(seen.family(name)?.metrics ?? [], name).toEqual([]);
    }
    expect(seen.family('process_cpu_seconds_total')?.type).toBe('COUNTER');
    const health = await fetch(`http://127.0.0.1:${server.port}/healthz`);
    expect([health.status, await health.json()]).toEqual([200, { ok: true, bot: 'up', database: 'up' }]);
    expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
  } finally {
    await server.close();
  }
  // The leader (the Slack front end's scheduler) reports the same stage.
  expect((await scrape(h.port)).value('rollout_stage_info', { stage: 'd1', run: '1' })).toBe(1);
});
