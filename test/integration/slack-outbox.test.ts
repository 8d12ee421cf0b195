import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { alice, bob, carol } from '../support/engine.ts';
import { SECOND } from '../support/clock.ts';
import { slackHarness, type SlackHarness } from '../support/slack-bot.ts';

let h: SlackHarness;
beforeAll(async () => {
  h = await slackHarness();
});
afterAll(() => h.close());
beforeEach(() => h.reset());

/** D1 requested, approved and rolled back through the core: four events, Slack not involved yet. */
async function fourEvents(): Promise<void> {
  await h.service.handle('d1', alice);
  await h.service.handle('approve', bob);
  await h.service.handle('rollback Runware 5xx in eu-west', carol);
}

const undelivered = async () =>
  (await h.db.app.query('SELECT id, attempts, last_error, next_attempt_at FROM rollout.outbox WHERE delivered_at IS NULL ORDER BY id'))
    .rows;
const posts = () => h.fake.calls.filter((c) => c.method === 'chat.postMessage').map((c) => c.body.text as string);
const EXPECTED_POSTS = [
  'U_ALICE requests D1 (request #1): pending',
  'D1 checklist: 0 of ? items green',
  expect.stringContaining('U_CAROL rolled back d1'),
];

describe('the outbox under a failing Slack', () => {
  it('a 429 holds the queue for Retry-After; afterwards every message arrives once, in order', async () => {
    await fourEvents();
    // The rollback is committed whatever Slack does.
    expect((await h.db.app.query('SELECT flag_value_text FROM feature_flags')).rows[0].flag_value_text).toBe('{"fal":1.0,"runware":0.0}');
    h.fake.failNext({ status: 429, retryAfter: 30 });
    await h.flush();
    expect(h.fake.calls).toHaveLength(1);
    const [blocked] = await undelivered();
    expect(blocked).toMatchObject({ id: 1, attempts: 1, last_error: 'Slack rate limit (429), retry after 30 s' });
    expect(blocked.next_attempt_at).toEqual(new Date(h.clock.now().getTime() + 30 * SECOND));

    h.clock.advance(29 * SECOND);
    await h.flush();
    expect(h.fake.calls).toHaveLength(1); // not before Retry-After

    h.clock.advance(1 * SECOND);
    await h.flush();
    expect(await undelivered()).toEqual([]);
    expect(h.fake.calls.map((c) => c.method)).toEqual([
      'chat.postMessage',
      'chat.postMessage',
      'chat.update',
      'chat.postMessage',
      'chat.postMessage',
      'chat.update',
    ]);
    expect(posts()).toEqual([EXPECTED_POSTS[0], ...EXPECTED_POSTS]);
  });

  it('5xx, a dropped connection and a Slack-side refusal each hold the queue with backoff, then it drains', async () => {
    await fourEvents();
    h.fake.failNext({ status: 500 }, { drop: true }, { error: 'not_in_channel' });
    for (const expected of ['Slack answered HTTP 500', 'Slack unreachable', 'Slack refused the call: not_in_channel']) {
      await h.flush();
      const [blocked] = await undelivered();
      expect(blocked.id).toBe(1);
      expect(blocked.last_error).toContain(expected);
      h.clock.set(blocked.next_attempt_at.toISOString());
    }
    await h.flush();
    expect(await undelivered()).toEqual([]);
    expect(posts().slice(3)).toEqual(EXPECTED_POSTS);
  });

  it('a delivery that failed halfway is retried without posting twice', async () => {
    await fourEvents();
    await h.flush();
    h.fake.clear();
    await h.service.handle('d1', alice);
    await h.service.handle('approve', bob);
    // stage_started of run 2 posts its checklist, then edits run 2's older checklists (none); manual
    // rollback posts the alert, then freezes the checklist: let the post through and fail the edit.
    await h.flush();
    await h.service.handle('rollback', carol);
    h.fake.failNext({ pass: true }, { status: 500 });
    await h.flush();
    expect((await undelivered()).length).toBe(1);
    h.clock.advance(60 * SECOND);
    await h.flush();
    expect(await undelivered()).toEqual([]);
    const alerts = posts().filter((t) => t.includes('rolled back'));
    expect(alerts).toHaveLength(1);
    expect(h.fake.calls.slice(-3).map((c) => c.method)).toEqual(['chat.postMessage', 'chat.update', 'chat.update']);
  });

  it('a payload Slack will never accept is sent as text alone instead of blocking the queue', async () => {
    await h.service.handle('d1', alice);
    h.fake.failNext({ error: 'invalid_blocks' });
    await h.flush();
    expect(await undelivered()).toEqual([]);
    expect(h.fake.calls.map((c) => [c.method, 'blocks' in c.body])).toEqual([
      ['chat.postMessage', true],
      ['chat.postMessage', false],
    ]);
    expect(h.fake.calls[1].body.text).toBe('U_ALICE requests D1 (request #1): pending');
  });
});
