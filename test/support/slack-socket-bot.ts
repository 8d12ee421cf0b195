import type { SocketTuning } from '../../src/config.ts';
import { soleLeader } from '../../src/engine/leader.ts';
import type { Logger } from '../../src/log.ts';
import { createSlackFrontEnd } from '../../src/slack/front-end.ts';
import { openTestDatabase, type TestDatabase } from './db.ts';
import { engine } from './engine.ts';
import { TestClock } from './clock.ts';
import { FakeSlack, type Reply } from './fake-slack.ts';
import { FakeSocketMode, type Ack } from './fake-socket-mode.ts';
import { CHANNEL, START } from './slack-bot.ts';
import { buttonBody, commandBody } from './slack-requests.ts';

export const APP_TOKEN = 'xapp-1-A0APP-test-app-token';

/** Seconds, not minutes: a dead link is noticed in about a second, reconnection waits 50–400 ms. */
const FAST_SOCKET: SocketTuning = { clientPingTimeoutMs: 900, serverPingTimeoutMs: 3_000, reconnectMinMs: 50, reconnectMaxMs: 400 };

/**
 * The bot in Socket Mode (Bolt's real SocketModeReceiver and @slack/socket-mode client) against
 * FakeSlack (Web API, response_url) and FakeSocketMode (the WebSocket end). Log lines are kept.
 */
export async function socketHarness(opts: { db?: TestDatabase } = {}) {
  const db = opts.db ?? (await openTestDatabase());
  const fake = await new FakeSlack().start();
  const sm = await new FakeSocketMode().start();
  fake.socketUrl = () => sm.nextUrl();
  const clock = new TestClock(START);
  const { service } = engine(db, { clock });
  const lines: string[] = [];
  const keep = (l: string) => void lines.push(l);
  const log: Logger = {
    info: (m) => keep(`INFO ${m}`),
    warn: (m, f) => keep(`WARN ${m}${f ? ` ${JSON.stringify(f)}` : ''}`),
    error: (m, f) => keep(`ERROR ${m}${f ? ` ${JSON.stringify(f)}` : ''}`),
    child: () => log,
  };
  const front = createSlackFrontEnd({
    service,
    log,
    leader: soleLeader(),
    slack: { botToken: 'xoxb-test-token', appToken: APP_TOKEN, apiUrl: fake.apiUrl, channel: CHANNEL, port: 0, socket: FAST_SOCKET },
  });

  const h = {
    db,
    fake,
    sm,
    clock,
    service,
    front,
    lines,
    port: 0,
    /** Starts /healthz and the connection (the harness starts nothing by itself, for the start-up tests). */
    async listen() {
      h.port = await front.listen();
      return h;
    },
    async health(): Promise<{ status: number; body: Record<string, unknown> }> {
      const res = await fetch(`http://127.0.0.1:${h.port}/healthz`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    /** Waits (real time: sockets and their timers) until the link is in this state. */
    async untilSlack(state: string, timeoutMs = 10_000): Promise<void> {
      await fake.until(() => front.slackState() === state, `Slack ${state} (now ${front.slackState()})`, timeoutMs);
    },
    opens: () => fake.calls.filter((c) => c.method === 'apps.connections.open'),
    async reset() {
      await front.scheduler.flush();
      await db.reset();
      fake.clear();
      clock.set(START);
      await front.scheduler.tick();
    },
    /** `/rollout <text>` over the socket: the ack, and the replies sent to its response_url. */
    async command(user: string, text: string, replies = 1): Promise<{ ack: Ack; replies: Reply[] }> {
      const url = fake.responseUrl();
      const payload = Object.fromEntries(new URLSearchParams(commandBody(user, text, url)));
      const ack = await sm.deliver('slash_commands', payload);
      const mine = () => fake.replies.filter((r) => r.url === new URL(url).pathname);
      await fake.until(() => mine().length >= replies, `reply to ${text}`);
      return { ack, replies: mine() };
    },
    async click(user: string, actionId: string, value: string): Promise<{ ack: Ack; replies: Reply[] }> {
      const url = fake.responseUrl();
      const payload = JSON.parse(new URLSearchParams(buttonBody(user, actionId, value, url)).get('payload')!);
      const ack = await sm.deliver('interactive', payload);
      const mine = () => fake.replies.filter((r) => r.url === new URL(url).pathname);
      await fake.until(() => mine().length >= 1, `reply to ${actionId}`);
      return { ack, replies: mine() };
    },
    async close() {
      await front.scheduler.flush();
      await front.stop();
      await sm.stop();
      await fake.stop();
      if (!opts.db) await db.close();
    },
  };
  return h;
}

export type SocketHarness = Awaited<ReturnType<typeof socketHarness>>;
