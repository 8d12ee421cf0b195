import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ACTION } from '../../src/render/blocks/buttons.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { alice, bob } from '../support/engine.ts';
import { APP_TOKEN, socketHarness, type SocketHarness } from '../support/slack-socket-bot.ts';

// Whatever Slack does, nothing may reject unobserved: in production that would end the process.
const rejections: unknown[] = [];
const capture = (reason: unknown) => void rejections.push(reason);
// One database for the file: each harness resets it.
let db: TestDatabase;
beforeAll(async () => {
  process.on('unhandledRejection', capture);
  db = await openTestDatabase();
});
afterAll(async () => {
  process.off('unhandledRejection', capture);
  await db.close();
});
afterEach(() => {
  expect(rejections).toEqual([]);
});

const said = (r: { replies: { body: Record<string, any> }[] }) => r.replies.map((x) => x.body.text as string);
const noTokensIn = (lines: string[]) => expect(lines.join('\n')).not.toMatch(/xapp-|xoxb-/);

describe('Socket Mode: commands and buttons arrive over the socket', () => {
  let h: SocketHarness;
  beforeAll(async () => {
    h = await (await socketHarness({ db })).listen();
    await h.untilSlack('connected');
  });
  afterAll(() => h.close());
  beforeEach(() => h.reset());

  it('connects with the app token; a command is acked on the socket and answered privately; /healthz says connected', async () => {
    expect(await h.health()).toMatchObject({ status: 200, body: { ok: true, bot: 'up', database: 'up', slack: 'connected' } });
    const { ack, replies } = await h.command(alice.id, 'help');
    expect(ack.envelope_id).toMatch(/^env-\d+$/);
    expect(replies[0].body).toMatchObject({ response_type: 'ephemeral' });
    expect(replies[0].body.text).toContain('Commands:');
    expect(h.sm.opened).toBe(1);
    noTokensIn(h.lines);
  });

  it('an Approve click over the socket starts the stage; posting uses the bot token, connecting the app token', async () => {
    expect(said(await h.command(alice.id, 'd1'))[0]).toContain('Requested d1 (request #1)');
    await h.front.scheduler.flush();
    const post = h.fake.calls.find((c) => c.method === 'chat.postMessage')!;
    expect(post.authorization).toBe('Bearer xoxb-test-token');
    const approve = (post.body.blocks as any[]).find((b) => b.type === 'actions').elements.find((e: any) => e.action_id === ACTION.approve);
    const click = await h.click(bob.id, ACTION.approve, approve.value);
    expect(said(click)[0]).toContain('d1 started');
    const { rows } = await h.db.app.query(`SELECT count(*)::int AS n FROM rollout.audit WHERE action = 'transition'`);
    expect(rows[0].n).toBe(1);
  });
});

describe('Socket Mode: Slack going away never stops the bot', () => {
  let h: SocketHarness;
  beforeAll(async () => {
    h = await (await socketHarness({ db })).listen();
    await h.untilSlack('connected');
  });
  afterAll(() => h.close());
  beforeEach(() => h.reset());

  /** The bot is on a connection newer than `before` and answers a command on it. */
  async function answersOnANewConnection(before: number): Promise<void> {
    await h.fake.until(() => h.sm.opened > before && h.front.slackState() === 'connected', 'a new connection');
    expect(said(await h.command(alice.id, 'status'))[0]).toContain('Stage: idle');
  }

  it('the server closes the connection: the bot reconnects and answers', async () => {
    const before = h.sm.opened;
    h.sm.closeLive();
    await answersOnANewConnection(before);
    expect(h.opens().at(-1)!.authorization).toBe(`Bearer ${APP_TOKEN}`);
  });

  it.each(['refresh_requested', 'link_disabled'] as const)('Slack says disconnect (%s): the bot reconnects and answers', async (reason) => {
    const before = h.sm.opened;
    h.sm.askToReconnect(reason);
    await answersOnANewConnection(before);
  });

  it('a dead connection (no pongs, no close frame) is noticed by the ping timeout and replaced', async () => {
    const before = h.sm.opened;
    h.sm.playDead();
    await answersOnANewConnection(before);
    expect(h.lines.some((l) => l.includes("A pong wasn't received from the server"))).toBe(true);
  });

  it('apps.connections.open failing (5xx, then network errors) during a reconnect: /healthz says reconnecting, the outbox still posts, then it reconnects', async () => {
    h.fake.hold('apps.connections.open', { status: 500 });
    const before = h.sm.opened;
    h.sm.closeLive();
    await h.untilSlack('reconnecting');
    await h.fake.until(() => h.opens().length >= 3, 'three refused attempts');
    expect(await h.health()).toMatchObject({ status: 200, body: { ok: true, bot: 'up', database: 'up', slack: 'reconnecting' } });
    h.fake.hold('apps.connections.open', { drop: true });
    const dropped = h.opens().length;
    await h.fake.until(() => h.opens().length >= dropped + 2, 'two attempts that lose the connection');

    // Slack's socket is down, its Web API is not: the guard's messages still go out.
    const reply = await h.service.handle('d1', { id: 'U_ALICE', via: 'console' });
    expect(reply.outcome.kind).not.toBe('refused');
    await h.front.scheduler.flush();
    expect(h.fake.calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(1);
    expect(h.front.slackState()).toBe('reconnecting');

    h.fake.release('apps.connections.open');
    await answersOnANewConnection(before);
    expect(await h.health()).toMatchObject({ status: 200, body: { ok: true, bot: 'up', database: 'up', slack: 'connected' } });
    expect(h.lines.some((l) => /^INFO slack: Socket Mode reconnected after [\d.]+ s without Slack/.test(l))).toBe(true);
    expect(h.lines.some((l) => l.startsWith('WARN slack: Socket Mode could not connect') && l.includes('Slack answered HTTP 500'))).toBe(
      true,
    );
    noTokensIn(h.lines);
  });
});

describe('Socket Mode: Slack unreachable at start', () => {
  let h: SocketHarness;
  afterAll(() => h?.close());

  it('/healthz answers at once (connecting), the bot keeps trying through 5xx and network errors, then connects and answers', async () => {
    h = await socketHarness({ db });
    await h.reset();
    h.fake.hold('apps.connections.open', { status: 500 });
    await h.listen();
    expect(await h.health()).toMatchObject({ status: 200, body: { ok: true, bot: 'up', database: 'up', slack: 'connecting' } });
    await h.fake.until(() => h.opens().length >= 2, 'two refused attempts');
    h.fake.hold('apps.connections.open', { drop: true });
    const refused = h.opens().length;
    await h.fake.until(() => h.opens().length >= refused + 2, 'two attempts that lose the connection');
    expect(h.front.slackState()).toBe('connecting');
    expect(h.sm.opened).toBe(0);

    h.fake.release('apps.connections.open');
    await h.untilSlack('connected');
    expect(said(await h.command(alice.id, 'status'))[0]).toContain('Stage: idle');
    const failures = h.lines.filter((l) => l.includes('commands and buttons are unavailable until it does'));
    expect(failures.length).toBeGreaterThanOrEqual(4);
    expect(failures.some((l) => l.includes('Slack answered HTTP 500'))).toBe(true);
    expect(failures.some((l) => l.includes('Slack unreachable: '))).toBe(true);
    noTokensIn(h.lines);
  });
});
