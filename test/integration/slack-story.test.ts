import { afterAll, beforeAll, expect, it } from 'vitest';
import { ACTION } from '../../src/render/blocks/buttons.ts';
import { alice, bob, carol, planWith } from '../support/engine.ts';
import { steadyTraffic } from '../support/traffic.ts';
import { slackHarness, type SlackHarness } from '../support/slack-bot.ts';

/**
 * The whole story as the channel sees it: D1 requested and approved, its checklist ticking
 * green, a threaded report, D2 requested from the checklist and approved, a latency breach,
 * the auto-rollback, and the health endpoint confirming it. Every payload Slack receives is
 * snapshotted, so any change to what people see shows up in review.
 */
let h: SlackHarness;
beforeAll(async () => {
  h = await slackHarness({ plan: planWith({ baselineCostPerImage: 0.04 }) });
});
afterAll(() => h.close());

const at = (hhmm: string) => new Date(`2026-11-28T${hhmm}:00Z`);

/** Both providers' traffic for the minutes before `end`, split by the weights, as the app logs it. */
async function traffic(end: string, minutes: number, runwareShare: number, runwareLatencyMs = 2_400) {
  const total = 100;
  const runware = Math.round(total * runwareShare);
  await steadyTraffic(h.db.app, { provider: 'fal', end: at(end), minutes, perMinute: total - runware, latencyMs: 3_100, cost: 0.04 });
  await steadyTraffic(h.db.app, {
    provider: 'runware',
    end: at(end),
    minutes,
    perMinute: runware,
    latencyMs: runwareLatencyMs,
    failureShare: 0.01,
    cost: 0.036,
  });
}

/** What one step made Slack show: private replies and Web API calls, in order. */
async function step(name: string, action: () => Promise<unknown>) {
  const calls = h.fake.calls.length;
  const replies = h.fake.replies.length;
  await action();
  await h.flush();
  const shown = { replies: h.fake.replies.slice(replies).map((r) => r.body), slack: h.fake.shown(calls) };
  expect(shown).toMatchSnapshot(name);
  return shown;
}

it('D1 → D2 → breach → auto-rollback, message by message', async () => {
  await h.reset();
  const w = (fal: number, runware: number) => ({ fal, runware });
  h.setHealth(h.healthReporting(w(1, 0)));

  await step('1 alice requests D1', () => h.command(alice.id, 'd1'));
  const d1 = await step('2 bob approves D1: request edited, checklist posted', () =>
    h.click(bob.id, ACTION.approve, h.buttonValue(ACTION.approve)),
  );
  expect(d1.slack.map((c) => c.method)).toEqual(['chat.update', 'chat.postMessage']);

  h.clock.set('2026-11-28T10:01:00Z');
  await step('3 10:01 the app does not report the new weights yet', () => h.front.refresher.refresh());

  h.setHealth(h.healthReporting(w(0.9, 0.1)));
  h.clock.set('2026-11-28T10:30:00Z');
  await traffic('10:30', 30, 0.1);
  await step('4 10:30 checklist: weights confirmed, split matches, soak half done', () => h.front.refresher.refresh());

  h.clock.set('2026-11-28T11:00:00Z');
  await traffic('11:00', 30, 0.1);
  await h.front.scheduler.tick();
  await step('5 11:00 report threaded under the D1 checklist', () => h.front.scheduler.report());
  const ready = await step('6 11:00 checklist: D1 ready, offers Request D2', () => h.front.refresher.refresh());
  expect(JSON.stringify(ready.slack)).toContain(ACTION.requestStage);

  await step('7 alice clicks Request D2', () => h.click(alice.id, ACTION.requestStage, h.buttonValue(ACTION.requestStage)));
  const approve = JSON.parse(h.buttonValue(ACTION.approve));
  expect(approve).toEqual({ request: 2, run: 1, stage: 'd2' });
  await step('8 carol approves D2: D1 checklist frozen, D2 checklist posted', () =>
    h.click(carol.id, ACTION.approve, JSON.stringify(approve)),
  );

  h.setHealth(h.healthReporting(w(0.5, 0.5)));
  h.clock.set('2026-11-28T11:06:00Z');
  await traffic('11:05', 5, 0.5);
  await traffic('11:06', 1, 0.5, 9_000);
  await step('9 11:06 p95 latency breaches: alert with Roll back now', () => h.front.scheduler.tick());
  await step('9b 11:06 the D2 checklist shows the breach', () => h.front.refresher.refresh());

  h.clock.set('2026-11-28T11:11:00Z');
  await traffic('11:11', 5, 0.5, 9_000);
  await step('10 11:11 the breach held 5m: auto-rollback, D2 checklist frozen', () => h.front.scheduler.tick());
  const { rows } = await h.db.app.query('SELECT flag_value_text, description FROM feature_flags');
  expect(rows).toEqual([
    { flag_value_text: '{"fal":1.0,"runware":0.0}', description: 'Provider weights: 100% FAL, 0% Runware (Rollback)' },
  ]);

  h.setHealth(h.healthReporting(w(1, 0)));
  h.clock.set('2026-11-28T11:12:00Z');
  await step('11 11:12 the health endpoint confirms the rollback weights', () => h.front.refresher.refresh());

  await step('12 a late click on the old Roll back now button opens the form, which says there is nothing to do', async () => {
    await h.clickForm(bob.id, ACTION.rollback, h.buttonValue(ACTION.rollback));
    await h.fake.until(() => h.fake.views('views.update').length === 1, 'the form replaced by the refusal');
  });
  await step('13 status after the rollback', () => h.command(carol.id, 'status'));
});
