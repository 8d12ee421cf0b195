import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ACTION } from '../../src/render/blocks/buttons.ts';
import { alice, bob, carol, mallory } from '../support/engine.ts';
import { slackHarness, said, type SlackHarness } from '../support/slack-bot.ts';
import { buttonBody, commandBody, postSigned, sign } from '../support/slack-requests.ts';

// What one listener decides on its own (bad commands, non-admins, stale and tampered buttons) is
// in test/listeners; here, what needs the whole front end: signatures, HTTP, the outbox, races.
let h: SlackHarness;
beforeAll(async () => {
  h = await slackHarness();
});
afterAll(() => h.close());
beforeEach(() => h.reset());

const transitions = async () =>
  (await h.db.app.query(`SELECT count(*)::int AS n FROM rollout.audit WHERE action = 'transition'`)).rows[0].n;

describe('requests reach the bot only with a valid Slack signature', () => {
  it('handles a correctly signed command and acks with an empty 200', async () => {
    const url = h.fake.responseUrl();
    const res = await postSigned(h.port, commandBody(alice.id, 'help', url));
    expect(res).toEqual({ status: 200, text: '' });
    await h.fake.until(() => h.fake.replies.length === 1);
    expect(h.fake.replies[0].body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(h.fake.replies[0].body.text).toContain('Commands:');
  });

  it('answers 401 to a wrong signature and does nothing', async () => {
    const body = commandBody(alice.id, 'd1', h.fake.responseUrl());
    const res = await postSigned(h.port, body, { secret: 'not-the-secret' });
    expect(res.status).toBe(401);
    const forged = await postSigned(h.port, body, { signature: `v0=${'0'.repeat(64)}` });
    expect(forged.status).toBe(401);
    expect((await h.db.app.query('SELECT count(*)::int AS n FROM rollout.requests')).rows[0].n).toBe(0);
  });

  it('answers 401 to a request signed more than 5 minutes ago (replay)', async () => {
    const old = Math.floor(Date.now() / 1000) - 6 * 60;
    const body = commandBody(alice.id, 'd1', h.fake.responseUrl());
    const res = await postSigned(h.port, body, { timestamp: old, signature: sign(body, old) });
    expect(res.status).toBe(401);
    expect((await h.db.app.query('SELECT count(*)::int AS n FROM rollout.requests')).rows[0].n).toBe(0);
  });

  it('GET /healthz answers 200 when the bot and its database are up', async () => {
    const res = await fetch(`http://127.0.0.1:${h.port}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      ok: true,
      bot: 'up',
      database: 'up',
      slack: 'http',
      replica: {
        id: expect.any(String),
        database: 'up',
        downSince: null,
        wasLeader: expect.any(Boolean),
        announced: null,
        ended: null,
        peers: 0,
      },
    });
  });
});

describe('/rollout', () => {
  it('answers a backtest in a thread of the rollout channel, and tells the asker where', async () => {
    const [reply] = await h.command(alice.id, 'backtest 2h');
    expect(reply.body.text).toBe('Done: the result is in a thread in the rollout channel.');
    const posts = h.fake.calls.filter((c) => c.method === 'chat.postMessage');
    expect(posts).toHaveLength(2);
    const [root, thread] = posts;
    expect(root.body.text).toMatch(/^Backtest .* requested by U_ALICE: 0 auto-rollbacks would have fired\. Details in the thread\.$/);
    expect(thread.body.thread_ts).toBe('1764324000.000001');
    expect(thread.body.text).toContain('240 evaluations every 30s of Runware');
  });

  it('posts the approval request to the channel with Approve and Reject buttons', async () => {
    expect(said(await h.command(alice.id, '  D1 '))[0]).toContain('Requested d1 (request #1)');
    await h.flush();
    const post = h.fake.calls.find((c) => c.method === 'chat.postMessage')!;
    expect(post.body.channel).toBe('C0ROLLOUT');
    expect(post.authorization).toBe('Bearer xoxb-test-token');
    const buttons = (post.body.blocks as any[]).find((b) => b.type === 'actions').elements;
    expect(buttons.map((b: any) => [b.action_id, JSON.parse(b.value)])).toEqual([
      [ACTION.approve, { request: 1, run: null, stage: 'd1' }],
      [ACTION.reject, { request: 1, run: null, stage: 'd1' }],
    ]);
    expect(buttons[0].confirm).toBeUndefined();
  });
});

describe('approval buttons', () => {
  async function requestD1(): Promise<string> {
    await h.command(alice.id, 'd1');
    await h.flush();
    return h.buttonValue(ACTION.approve);
  }

  it('enforce the two-person rule, then start the stage and edit the request in place', async () => {
    const value = await requestD1();
    expect(said(await h.click(alice.id, ACTION.approve, value))[0]).toContain('another admin must approve it (two-person rule)');
    expect(said(await h.click(mallory.id, ACTION.approve, value))[0]).toContain('Only rollout admins may approve');
    expect(await transitions()).toBe(0);
    expect(said(await h.click(bob.id, ACTION.approve, value))[0]).toContain('d1 started');
    await h.flush();
    const update = h.fake.calls.find((c) => c.method === 'chat.update')!;
    expect(update.body.ts).toBe('1764324000.000001');
    const blocks = update.body.blocks as any[];
    expect(blocks.some((b) => b.type === 'actions')).toBe(false);
    expect(blocks.at(-1).text.text).toContain('*Approved* by <@U_BOB>');
    expect(h.fake.calls.at(-1)!.body.text).toBe('D1 checklist: 0 of ? items green');
  });

  it('10 racing approve clicks make exactly one transition; the others are told who won', async () => {
    const value = await requestD1();
    const urls = Array.from({ length: 10 }, () => h.fake.responseUrl());
    const clickers = [bob, carol];
    const acks = await Promise.all(urls.map((url, i) => postSigned(h.port, buttonBody(clickers[i % 2].id, ACTION.approve, value, url))));
    expect(acks.map((a) => a.status)).toEqual(Array(10).fill(200));
    const ours = () => h.fake.replies.filter((r) => urls.some((u) => u.endsWith(r.url)));
    await h.fake.until(() => ours().length === 10, '10 replies');
    const texts = ours().map((r) => r.body.text as string);
    expect(texts.filter((t) => t.startsWith('d1 started'))).toHaveLength(1);
    expect(texts.filter((t) => /Refused: Request #1 for d1 is already approved by U_(BOB|CAROL)/.test(t))).toHaveLength(9);
    expect(ours().every((r) => r.body.response_type === 'ephemeral')).toBe(true);
    expect(await transitions()).toBe(1);
  });

  it('Reject (through its reason form) closes the request and removes the buttons', async () => {
    const value = await requestD1();
    const form = await h.clickForm(carol.id, ACTION.reject, value);
    expect((await h.submitForm(carol.id, form, null)).view.blocks[0].text.text).toBe(':x: Request #1 for *D1* rejected.');
    await h.flush();
    const update = h.fake.calls.find((c) => c.method === 'chat.update')!;
    expect((update.body.blocks as any[]).at(-1).text.text).toContain('*Rejected* by <@U_CAROL>');
  });
});

describe('rollback buttons', () => {
  it('open a reason form instead of a confirm dialog, act on their own stage, and refuse once the rollout moved on', async () => {
    await h.command(alice.id, 'd1');
    await h.flush();
    await h.click(bob.id, ACTION.approve, h.buttonValue(ACTION.approve));
    await h.flush();
    const checklist = h.fake.calls.at(-1)!;
    const rollback = (checklist.body.blocks as any[])
      .find((b) => b.type === 'actions')
      .elements.find((e: any) => e.action_id === ACTION.rollback);
    expect(rollback.confirm).toBeUndefined();
    expect(JSON.parse(rollback.value)).toEqual({ run: 1, stage: 'd1' });

    expect(said(await h.click(mallory.id, ACTION.rollback, rollback.value))[0]).toContain('Only rollout admins may rollback');
    const form = await h.clickForm(carol.id, ACTION.rollback, rollback.value);
    expect((await h.submitForm(carol.id, form, 'test')).view.blocks[0].text.text).toContain('*Rolled back*');
    await h.clickForm(carol.id, ACTION.rollback, rollback.value);
    await h.fake.until(() => h.fake.views('views.update').length === 1, 'the refusal in the form');
    expect((h.fake.views('views.update')[0].body.view as any).blocks[0].text.text).toContain(
      'This button was for D1 of rollout #1; the rollout is now ROLLED BACK',
    );
    const { rows } = await h.db.app.query(`SELECT description FROM feature_flags`);
    expect(rows[0].description).toBe('Provider weights: 100% FAL, 0% Runware (Manual Rollback)');
  });
});
