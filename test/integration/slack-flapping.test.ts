import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ApiCall } from '../support/fake-slack.ts';
import { alice } from '../support/engine.ts';
import { MINUTE } from '../support/clock.ts';
import type { Health } from '../support/traffic.ts';
import { FAILING, flappingPlan, HEALTHY, hover as hoverAt, minutes as replay } from '../support/flapping.ts';
import { slackHarness, type SlackHarness } from '../support/slack-bot.ts';

/**
 * A fault hovering at the failure-rate threshold: bursts of failures shorter than the red line's
 * `for`, for 90 minutes. The guard keeps its `for` semantics (no rollback); the channel gets one
 * alert per episode, with every later breach and recovery in its thread.
 */
let h: SlackHarness;
beforeAll(async () => {
  h = await slackHarness({ plan: flappingPlan });
});
afterAll(() => h.close());
beforeEach(async () => {
  await h.reset();
  await h.service.handle('d1', alice);
  await h.flush();
});

const minutes = (n: number, health: Health) => replay(h, n, health);
const hover = (totalMinutes: number) => hoverAt(h, totalMinutes);

const breachEvents = async () =>
  (await h.db.app.query(`SELECT id, kind, payload FROM rollout.outbox WHERE kind LIKE 'breach%' ORDER BY id`)).rows as {
    id: number;
    kind: string;
    payload: any;
  }[];
const posts = (from = 0) => h.fake.calls.slice(from).filter((c) => c.method === 'chat.postMessage');
const topLevelAlerts = (from = 0) => posts(from).filter((c) => !c.body.thread_ts && String(c.body.text).startsWith('[alert] failure rate'));
/** The fake answers posts with ts counting up from 1 since the last clear. */
const postTs = (call: ApiCall) => `1764324000.${String(posts().indexOf(call) + 1).padStart(6, '0')}`;
const editsOf = (ts: string, from = 0) => h.fake.calls.slice(from).filter((c) => c.method === 'chat.update' && c.body.ts === ts);

describe('alerts that do not flap', () => {
  it('90 minutes hovering at the threshold: one channel alert, every other breach and recovery in its thread, the parent summing up', async () => {
    await minutes(3, HEALTHY);
    const before = h.fake.calls.length;
    await hover(90);

    const events = await breachEvents();
    const started = events.filter((e) => e.kind === 'breach_started');
    expect(started).toHaveLength(15); // 2 min failing, 4 healthy: 15 breach/recovered pairs, the flapping the issue describes
    expect(events.filter((e) => e.kind === 'breach_recovered')).toHaveLength(started.length);
    // The runbook's `for` is kept: no burst held 5 minutes, so nothing rolled back.
    expect((await h.db.app.query('SELECT state FROM rollout.runs')).rows[0].state).toBe('d1');
    expect((await h.db.app.query(`SELECT count(*)::int AS n FROM rollout.outbox WHERE kind = 'auto_rollback'`)).rows[0].n).toBe(0);

    const [parent] = topLevelAlerts(before);
    expect(topLevelAlerts(before)).toHaveLength(1);
    expect(parent.body.text).toContain('is in breach at d1');
    const parentTs = postTs(parent);
    const replies = posts(before).filter((c) => c.body.thread_ts);
    expect(replies).toHaveLength(events.length - 1);
    expect(new Set(replies.map((r) => r.body.thread_ts))).toEqual(new Set([parentTs]));
    expect(replies.map((r) => String(r.body.text).split(':')[0])).toEqual(
      events
        .slice(1)
        .map((e) => (e.kind === 'breach_started' ? '[alert] failure rate is in breach at d1' : '[alert] failure rate recovered after 2m')),
    );

    // Every reply edits the parent; the last edit says the whole episode.
    const edits = editsOf(parentTs, before);
    expect(edits).toHaveLength(events.length - 1);
    const span = Date.parse(events.at(-1)!.payload.at) - Date.parse(events[0].payload.at);
    expect(span).toBe(86 * MINUTE);
    expect(edits.at(-1)!.body.text).toBe(
      `[alert] failure rate at d1: breached ${started.length} times in 1h 26m, longest 2m, now recovered.`,
    );
    expect(JSON.stringify(edits.at(-1)!.body.blocks)).toContain(':large_green_circle: *failure rate breached at D1, now recovered*');
  });

  it('after more than 30 quiet minutes, the next breach is a new channel alert with its own thread', async () => {
    await minutes(3, HEALTHY);
    await hover(18);
    const before = h.fake.calls.length;
    await minutes(31, HEALTHY);
    expect(h.fake.calls.length).toBe(before); // quiet
    await minutes(2, FAILING);
    await minutes(1, HEALTHY);

    const alerts = topLevelAlerts();
    expect(alerts).toHaveLength(2);
    const second = postTs(alerts[1]);
    expect(posts(before).map((c) => [String(c.body.text).split(':')[0], c.body.thread_ts ?? null])).toEqual([
      ['[alert] failure rate is in breach at d1', null],
      ['[alert] failure rate recovered after 2m', second],
    ]);
    expect(editsOf(second).at(-1)!.body.text).toBe('[alert] failure rate at d1: breached once for 2m, now recovered.');
    // The first episode's parent was not touched by the second.
    const first = postTs(alerts[0]);
    expect(editsOf(first, before)).toEqual([]);
    expect(editsOf(first).at(-1)!.body.text).toBe('[alert] failure rate at d1: breached 3 times in 14m, longest 2m, now recovered.');
  });

  it('a delivery retried after a failed edit, or after it was applied, neither posts twice nor counts twice', async () => {
    await minutes(3, HEALTHY);
    await hover(6);
    // The next breach's reply gets through; the parent edit fails with a 500, so the event is retried.
    h.fake.failNextOf('chat.update', { status: 500 });
    await minutes(2, FAILING);
    await minutes(4, HEALTHY);
    const events = await breachEvents();
    expect(events).toHaveLength(4);
    const retried = (await h.db.app.query('SELECT attempts, last_error FROM rollout.outbox WHERE id = $1', [events[2].id])).rows[0];
    // One failed attempt (the edit), then the one that delivered it.
    expect(retried).toMatchObject({ attempts: 2, last_error: expect.stringContaining('500') });
    const parentTs = postTs(topLevelAlerts()[0]);
    expect(posts().filter((c) => c.body.thread_ts === parentTs)).toHaveLength(3);

    // As if the process died after delivering but before marking them delivered.
    const calls = h.fake.calls.length;
    await h.db.app.query('UPDATE rollout.outbox SET delivered_at = NULL WHERE id = ANY($1)', [events.slice(1).map((e) => e.id)]);
    await h.flush();
    expect(h.fake.calls.length).toBe(calls);

    const { rows } = await h.db.app.query(`SELECT ts, state FROM rollout.slack_messages WHERE key = 'episode:1:failureRatePercent'`);
    expect(rows[0].ts).toBe(parentTs);
    expect(rows[0].state.episode).toMatchObject({ breaches: 2, lastOutboxId: events.at(-1)!.id, longestMs: 2 * MINUTE });
    expect(editsOf(parentTs).at(-1)!.body.text).toBe('[alert] failure rate at d1: breached 2 times in 8m, longest 2m, now recovered.');
  });

  it('a rollback stays a top-level alert and the open episode says it was rolled back', async () => {
    await minutes(3, HEALTHY);
    await hover(6);
    await minutes(6, FAILING); // this one holds for `for`
    const rollback = posts().filter((c) => String(c.body.text).startsWith('[alert] AUTO-ROLLBACK at d1'));
    expect(rollback).toHaveLength(1);
    expect(rollback[0].body.thread_ts).toBeUndefined();
    const parentTs = postTs(topLevelAlerts()[0]);
    const last = editsOf(parentTs).at(-1)!;
    expect(h.fake.calls.indexOf(last)).toBeGreaterThan(h.fake.calls.indexOf(rollback[0]));
    expect(last.body.text).toBe(
      '[alert] failure rate at d1: breached 2 times in 11m, longest 2m, breaching since 10:10 UTC, rolled back at 10:15 UTC.',
    );
    expect(JSON.stringify(last.body.blocks)).not.toContain('"type":"actions"');
  });
});
