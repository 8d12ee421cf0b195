import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { alice } from '../support/engine.ts';
import { MINUTE } from '../support/clock.ts';
import type { Health } from '../support/traffic.ts';
import { FAILING, flappingPlan, HEALTHY, hover as hoverAt, minutes as replay } from '../support/flapping.ts';
import { slackHarness, type SlackHarness } from '../support/slack-bot.ts';

/**
 * Charts of a red line flapping at its threshold (as in slack-flapping.test.ts): one chart per
 * episode, under the episode's parent, replaced by the chart of the whole episode when it ends.
 */
let h: SlackHarness;
beforeAll(async () => {
  h = await slackHarness({ plan: flappingPlan, charts: true });
});
afterAll(() => h.close());
beforeEach(async () => {
  await h.reset();
  await h.service.handle('d1', alice);
  await h.flush();
});

const minutes = (n: number, health: Health) => replay(h, n, health);
const hover = (totalMinutes: number) => hoverAt(h, totalMinutes);

const posts = () => h.fake.calls.filter((c) => c.method === 'chat.postMessage');
const postTs = (call: (typeof h.fake.calls)[number]) => `1764324000.${String(posts().indexOf(call) + 1).padStart(6, '0')}`;
const parents = () => posts().filter((c) => !c.body.thread_ts && String(c.body.text).startsWith('[alert] failure rate'));
const deleted = () => h.fake.calls.filter((c) => c.method === 'files.delete').map((c) => c.body.file);
/** Charts still in the channel: shared and not deleted. */
const charts = () => h.fake.shared.filter((s) => !deleted().includes(s.fileId));
const jobs = async () =>
  (await h.db.app.query(`SELECT key, thread_ts, file_id, done_at, next_attempt_at, request FROM rollout.chart_jobs ORDER BY id`)).rows;

// Minute by minute through 50 minutes of flapping, each with a guard cycle and a chart render: more than the
// project's 30 s on a loaded 2-core machine.
describe('charts where the episode is', { timeout: 120_000 }, () => {
  it('a flapping episode: one chart under its parent at the first breach, none for later breaches, replaced by the whole episode once it ends', async () => {
    await minutes(3, HEALTHY);
    await hover(18); // three breaches, each recovered
    const [parent] = parents();
    expect(parents()).toHaveLength(1);
    const parentTs = postTs(parent);
    const breaches = (await h.db.app.query(`SELECT id FROM rollout.outbox WHERE kind = 'breach_started'`)).rows;
    expect(breaches).toHaveLength(3);
    // Three breaches, one chart: the first's, under the parent (the later breaches' replies get none).
    expect(charts().map((c) => c.threadTs)).toEqual([parentTs]);
    expect((await jobs()).map((j) => j.key)).toEqual([
      `episode-chart:1:failureRatePercent:${new Date(Date.parse('2026-11-28T10:04:00Z')).toISOString()}:first`,
      `episode-chart:1:failureRatePercent:2026-11-28T10:04:00.000Z:whole`,
    ]);
    const first = charts()[0];

    // The episode is over once 30 quiet minutes pass after its last recovery: its whole chart replaces the first.
    const recoveries = (await h.db.app.query(`SELECT payload->>'at' AS at FROM rollout.outbox WHERE kind = 'breach_recovered' ORDER BY id`))
      .rows;
    const due = Date.parse(recoveries.at(-1).at) + 30 * MINUTE;
    expect((await jobs()).find((j) => j.key.endsWith(':whole'))!.next_attempt_at.getTime()).toBe(due);
    await minutes(Math.floor((due - h.clock.now().getTime()) / MINUTE) - 1, HEALTHY);
    expect(charts()).toEqual([first]);
    await minutes(2, HEALTHY);
    expect(charts()).toHaveLength(1);
    const whole = charts()[0];
    expect(whole.fileId).not.toBe(first.fileId);
    expect(whole.threadTs).toBe(parentTs);
    expect(whole.title).toContain('D1: breached 3 times in 14m');
    expect(deleted()).toEqual([first.fileId]);
    const wholeJob = (await jobs()).find((j) => j.key.endsWith(':whole'))!;
    // From before the first breach to after the last recovery.
    expect(wholeJob.request.fromMs).toBeLessThan(Date.parse('2026-11-28T10:04:00Z'));
    expect(wholeJob.request.toMs).toBeGreaterThanOrEqual(Date.parse('2026-11-28T10:18:00Z'));

    // A new episode later gets its own parent and its own chart.
    await minutes(2, FAILING);
    expect(parents()).toHaveLength(2);
    expect(charts().map((c) => c.threadTs)).toEqual([parentTs, postTs(parents()[1])]);
  });

  it('a breach within the window keeps the episode open (its whole chart waits); a rollback ends it, and its chart comes at once', async () => {
    await minutes(3, HEALTHY);
    await hover(6); // one breach, recovered: the whole chart is scheduled for 30 min later
    expect((await jobs()).filter((j) => j.key.endsWith(':whole'))).toHaveLength(1);
    await minutes(6, FAILING); // a second breach in the episode cancels it, then holds for `for`: rollback
    const rollback = posts().filter((c) => String(c.body.text).startsWith('[alert] AUTO-ROLLBACK at d1'));
    expect(rollback).toHaveLength(1);
    const parentTs = postTs(parents()[0]);
    // In the parent's thread one chart, the whole episode's up to the rollback; the rollback alert has its own.
    expect(charts().filter((c) => c.threadTs === parentTs)).toHaveLength(1);
    expect(charts().find((c) => c.threadTs === parentTs)!.title).toContain('D1: breached 2 times in 11m, then rolled back');
    expect(charts().filter((c) => c.threadTs === postTs(rollback[0]))).toHaveLength(1);
    expect(deleted()).toHaveLength(1);
  });
});
