import { webApi } from '@slack/bolt';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import type { Plan } from '../../src/plan/plan.ts';
import type { ListenerDeps } from '../../src/slack/answer.ts';
import { HomePublisher } from '../../src/slack/home.ts';
import { slackWebClient } from '../../src/slack/web.ts';
import { REASON } from '../../src/render/blocks/modals.ts';
import { TestClock } from './clock.ts';
import { openTestDatabase, type TestDatabase } from './db.ts';
import { engine } from './engine.ts';

/**
 * Unit tests of one Slack listener, as Slack's starter templates test theirs: the registered
 * callback called with a fake `ack` and the payload Slack would send, and Slack's servers
 * (the Web API and response_url) intercepted by nock, so every request the listener makes is
 * asserted as it left. The engine behind it is the real one on the test's database.
 */
const SLACK_API = 'https://slack.com';
const HOOKS = 'https://hooks.slack.com';
const TEAM = 'T0TEAM';

/**
 * Slack's servers as nock intercepts them. `timeline` is what reached Slack, in order, with
 * `ack` in its place: "ack comes first" is `timeline[0]`.
 */
export class SlackServers {
  readonly timeline: string[] = [];
  private responses = 0;

  /**
   * Expects `times` calls of one Web API method, answered with `answer`; returns what they sent
   * (form-encoded as @slack/web-api sends it, with `view` and `blocks` decoded).
   */
  expect(method: string, answer: Record<string, unknown> = { ok: true }, times = 1): Record<string, any>[] {
    const sent: Record<string, any>[] = [];
    nock(SLACK_API)
      .post(`/api/${method}`)
      .times(times)
      .reply(200, (_uri, body) => {
        const decoded = decodeForm(body);
        sent.push(decoded);
        this.timeline.push(method);
        return answer;
      });
    return sent;
  }

  /**
   * A fresh response_url, as Slack puts one in every command and click, expecting `times`
   * answers through it (0: none expected, but any that come are recorded, and in the timeline);
   * returns the URL and what was posted to it.
   */
  responseUrl(times = 1): { url: string; replies: Record<string, any>[] } {
    const path = `/actions/${TEAM}/${++this.responses}/secret`;
    const replies: Record<string, any>[] = [];
    nock(HOOKS)
      .post(path)
      .times(times || 5)
      .optionally(times === 0)
      .reply(200, (_uri, body) => {
        replies.push(typeof body === 'string' ? JSON.parse(body) : body);
        this.timeline.push('respond');
        return { ok: true };
      });
    return { url: `${HOOKS}${path}`, replies };
  }

  /** An `ack` that records its place in the timeline and what it was given. */
  ack(): ((response?: unknown) => Promise<void>) & { calls: unknown[] } {
    const calls: unknown[] = [];
    const fn = async (response?: unknown) => {
      calls.push(response);
      this.timeline.push('ack');
    };
    return Object.assign(fn, { calls });
  }

  clear(): void {
    this.timeline.length = 0;
  }
}

function decodeForm(body: unknown): Record<string, any> {
  if (typeof body !== 'string') return body as Record<string, any>;
  const out: Record<string, any> = {};
  for (const [k, v] of new URLSearchParams(body)) out[k] = k === 'blocks' || k === 'view' ? JSON.parse(v) : v;
  return out;
}

/**
 * Bolt's respond() for a response_url: a JSON POST (as bolt/dist/context/create-respond.js
 * does), which nock intercepts like the real Slack.
 */
const respondTo =
  (url: string) =>
  async (message: unknown): Promise<unknown> => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message) });
    if (!res.ok) throw new Error(`response_url answered ${res.status}`);
    return res;
  };

/**
 * nock on for a test file: no request leaves the process, and every expected one was made.
 * Workers run file after file (isolate: false): nock patches http and fetch only while a
 * listener file runs, and the next file (a whole front end on real HTTP) gets them unpatched.
 */
function interceptSlack(): void {
  if (!nock.isActive()) nock.activate();
  nock.disableNetConnect();
}

function checkSlackDone(): void {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  if (pending.length) throw new Error(`Slack was expected to get these requests and did not: ${pending.join(', ')}`);
}

function releaseSlack(): void {
  nock.cleanAll();
  nock.enableNetConnect();
  nock.restore();
}

/** The engine on this database, the listener deps a front end would give, and a Home tab on nock's Slack. */
export function listenerDeps(db: TestDatabase, opts: { plan?: Plan; answerWithinMs?: number } = {}) {
  const clock = new TestClock('2026-11-28T10:00:00Z');
  const { service } = engine(db, { plan: opts.plan, clock });
  const web = slackWebClient('xoxb-test-token', undefined, silentLogger);
  const home = new HomePublisher({ service, web, log: silentLogger });
  const kicks = { count: 0 };
  const deps: ListenerDeps = {
    service,
    log: silentLogger,
    afterCommand: () => void kicks.count++,
    answerWithinMs: opts.answerWithinMs ?? 4_000,
    home,
  };
  return { deps, service, clock, web, home, kicks };
}

export interface ListenerFixture {
  db: TestDatabase;
  slack: SlackServers;
  t: ReturnType<typeof listenerDeps>;
}

/**
 * The hooks every listener file needs: one database per file (emptied, with fresh Slack servers
 * and engine, before each test), nock on for the file, and every expected Slack request made.
 * `use` receives the fixture after each reset.
 */
export function listenerFixture(use: (fixture: ListenerFixture) => void): void {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase();
    interceptSlack();
  });
  afterAll(async () => {
    releaseSlack();
    await db.close();
  });
  beforeEach(async () => {
    await db.reset();
    use({ db, slack: new SlackServers(), t: listenerDeps(db) });
  });
  afterEach(() => checkSlackDone());
}

/** The Web API client Bolt hands a listener (`client`), pointed at nock's Slack. */
const listenerClient = () => new webApi.WebClient('xoxb-test-token', { retryConfig: { retries: 0 }, rejectRateLimitedCalls: true });

const user = (id: string) => ({ id, username: id.toLowerCase(), name: id.toLowerCase(), team_id: TEAM });

/** `/rollout <text>`: the args Bolt gives a command listener. */
export function commandArgs(servers: SlackServers, userId: string, text: string, replies = 1) {
  const { url, replies: sent } = servers.responseUrl(replies);
  const command = {
    team_id: TEAM,
    channel_id: 'C0ROLLOUT',
    user_id: userId,
    command: '/rollout',
    text,
    response_url: url,
    trigger_id: '1.2.3',
    api_app_id: 'A0APP',
  };
  const ack = servers.ack();
  return { args: { command, body: command, payload: command, ack, respond: respondTo(url) } as never, ack, replies: sent };
}

/** A button click on a message (with a response_url) or on the Home tab (without one). */
export function buttonArgs(
  servers: SlackServers,
  userId: string,
  actionId: string,
  value: string,
  opts: { from?: 'message' | 'home'; replies?: number } = {},
) {
  const action = { type: 'button', action_id: actionId, block_id: 'b1', value, text: { type: 'plain_text', text: 'x' }, action_ts: '1.1' };
  const fromHome = opts.from === 'home';
  const reply = fromHome ? null : servers.responseUrl(opts.replies ?? 1);
  const body = {
    type: 'block_actions',
    user: user(userId),
    team: { id: TEAM, domain: 'acme' },
    trigger_id: '1.2.3',
    container: fromHome
      ? { type: 'view', view_id: 'V0HOME' }
      : { type: 'message', message_ts: '1764324000.000001', channel_id: 'C0ROLLOUT' },
    ...(reply ? { response_url: reply.url } : {}),
    actions: [action],
  };
  const ack = servers.ack();
  const args = { ack, body, action, payload: action, client: listenerClient(), respond: reply ? respondTo(reply.url) : undefined };
  return { args: args as never, ack, replies: reply?.replies ?? [] };
}

/** A reason form's submission (view_submission) with what was typed (null: left empty). */
export function submissionArgs(
  servers: SlackServers,
  userId: string,
  form: { callback_id: string; private_metadata: string },
  reason: string | null,
) {
  const view = {
    id: 'V0FORM',
    type: 'modal',
    callback_id: form.callback_id,
    private_metadata: form.private_metadata,
    state: { values: { [REASON.block]: { [REASON.action]: { type: 'plain_text_input', value: reason } } } },
  };
  const body = { type: 'view_submission', user: user(userId), team: { id: TEAM, domain: 'acme' }, view };
  const ack = servers.ack();
  return { args: { ack, body, view, payload: view, client: listenerClient() } as never, ack };
}
