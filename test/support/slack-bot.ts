import type { HealthReading } from '../../src/core/health.ts';
import { soleLeader } from '../../src/engine/leader.ts';
import { silentLogger } from '../../src/log.ts';
import type { Plan } from '../../src/plan/plan.ts';
import { createSlackFrontEnd } from '../../src/slack/front-end.ts';
import { openTestDatabase, type TestDatabase } from './db.ts';
import { engine } from './engine.ts';
import { TestClock } from './clock.ts';
import { FakeSlack, type Reply } from './fake-slack.ts';
import {
  buttonBody,
  commandBody,
  homeButtonBody,
  homeOpenedEvent,
  postSigned,
  postSignedJson,
  SIGNING_SECRET,
  viewSubmissionBody,
} from './slack-requests.ts';
import { REASON } from '../../src/render/blocks/modals.ts';

export const CHANNEL = 'C0ROLLOUT';
export const START = '2026-11-28T10:00:00Z';

/**
 * One database, one fake Slack and one bot (Bolt's real HTTPReceiver on a free port) per test
 * file; `reset()` between tests. The engine runs on the TestClock; Bolt's signature check uses
 * the real clock, as in production.
 */
export async function slackHarness(opts: { plan?: Plan; answerWithinMs?: number; db?: TestDatabase; charts?: boolean } = {}) {
  const db = opts.db ?? (await openTestDatabase());
  const fake = await new FakeSlack().start();
  const clock = new TestClock(START);
  let health: HealthReading = { kind: 'not_configured' };
  const { service } = engine(db, { plan: opts.plan, clock, health: () => health });
  const front = createSlackFrontEnd({
    service,
    slack: { botToken: 'xoxb-test-token', signingSecret: SIGNING_SECRET, apiUrl: fake.apiUrl, channel: CHANNEL, port: 0 },
    leader: soleLeader(),
    log: silentLogger,
    answerWithinMs: opts.answerWithinMs,
    // Off unless asked: charts upload on their own queue, and tests of the text see only the text.
    charts: opts.charts ?? false,
  });
  const port = (await front.listen())!;

  const h = {
    db,
    fake,
    clock,
    service,
    front,
    port,
    setHealth(reading: HealthReading) {
      health = reading;
    },
    /** The app's /api/health as the seed shows it, reporting these weights. */
    healthReporting(weights: Record<string, number>): HealthReading {
      return {
        kind: 'read',
        weights,
        weightsProblem: null,
        checkedAt: clock.now().toISOString(),
        providers: { fal: { ok: true, latencyMs: 125, error: null }, runware: { ok: true, latencyMs: 98, error: null } },
      };
    },
    async reset() {
      await front.scheduler.flush();
      await front.charts?.flush();
      await db.reset();
      fake.clear();
      clock.set(START);
      health = { kind: 'not_configured' };
      // Makes this replica the leader (PGlite and the test's Postgres have no other), so kicks drain the outbox.
      await front.scheduler.tick();
    },
    /** Delivers everything in the outbox now, and the Home tab republishing it caused. */
    async flush() {
      await front.scheduler.flush();
      await front.home.flush();
    },
    /** Opens the bot's Home tab as `user` (app_home_opened, JSON, signed); resolves with the view published for them. */
    async openHome(user: string): Promise<any> {
      const before = fake.views('views.publish', user).length;
      const res = await postSignedJson(port, homeOpenedEvent(user));
      if (res.status !== 200) throw new Error(`/slack/events answered ${res.status}`);
      await fake.until(() => fake.views('views.publish', user).length > before, `views.publish for ${user}`);
      return fake.views('views.publish', user).at(-1)!.body.view;
    },
    /** The Home tab last published for `user`. */
    home(user: string): any {
      return fake.views('views.publish', user).at(-1)?.body.view;
    },
    /** A click that opens a form: resolves with the form (views.open), after Slack got it. */
    async clickForm(user: string, actionId: string, value: string, from: 'message' | 'home' = 'message'): Promise<any> {
      const before = fake.views('views.open').length;
      const body = from === 'home' ? homeButtonBody(user, actionId, value) : buttonBody(user, actionId, value, fake.responseUrl());
      const res = await postSigned(port, body);
      if (res.status !== 200) throw new Error(`/slack/events answered ${res.status}`);
      await fake.until(() => fake.views('views.open').length > before, `views.open for ${actionId}`);
      return fake.views('views.open').at(-1)!.body.view;
    },
    /** A click on the Home tab that does not open a form (Approve); resolves once the Home tab was republished with the answer. */
    async clickHome(user: string, actionId: string, value: string): Promise<any> {
      const before = fake.views('views.publish', user).length;
      const res = await postSigned(port, homeButtonBody(user, actionId, value));
      if (res.status !== 200) throw new Error(`/slack/events answered ${res.status}`);
      await fake.until(() => fake.views('views.publish', user).length > before, `Home answer to ${actionId}`);
      return fake.views('views.publish', user).at(-1)!.body.view;
    },
    /** Submits a form with this reason; resolves with Bolt's ack body (response_action …), or null for a plain ack. */
    async submitForm(user: string, form: { callback_id: string; private_metadata: string }, reason: string | null): Promise<any> {
      const res = await postSigned(port, viewSubmissionBody(user, form, { [REASON.block]: { [REASON.action]: reason } }));
      if (res.status !== 200) throw new Error(`/slack/events answered ${res.status}`);
      return res.text ? JSON.parse(res.text) : null;
    },
    /** `/rollout <text>` as Slack posts it; resolves with the replies sent to its response_url. */
    async command(user: string, text: string, replies = 1): Promise<Reply[]> {
      const url = fake.responseUrl();
      const res = await postSigned(port, commandBody(user, text, url));
      if (res.status !== 200) throw new Error(`/slack/events answered ${res.status}`);
      await fake.until(() => fake.replies.filter((r) => r.url === new URL(url).pathname).length >= replies, `reply to ${text}`);
      return fake.replies.filter((r) => r.url === new URL(url).pathname);
    },
    /** A button click as Slack posts it. */
    async click(user: string, actionId: string, value: string, replies = 1): Promise<Reply[]> {
      const url = fake.responseUrl();
      const res = await postSigned(port, buttonBody(user, actionId, value, url));
      if (res.status !== 200) throw new Error(`/slack/events answered ${res.status}`);
      await fake.until(() => fake.replies.filter((r) => r.url === new URL(url).pathname).length >= replies, `reply to ${actionId}`);
      return fake.replies.filter((r) => r.url === new URL(url).pathname);
    },
    /** The buttons of the latest Web API call that showed one with this action id. */
    buttonValue(actionId: string): string {
      for (const c of [...fake.calls].reverse()) {
        for (const b of (c.body.blocks as any[]) ?? []) {
          const el = b.type === 'actions' ? b.elements.find((e: any) => e.action_id === actionId) : undefined;
          if (el) return el.value;
        }
      }
      throw new Error(`no button ${actionId} was shown`);
    },
    async close() {
      await front.scheduler.flush();
      await front.charts?.flush();
      await front.stop();
      await fake.stop();
      if (!opts.db) await db.close();
    },
  };
  return h;
}

export type SlackHarness = Awaited<ReturnType<typeof slackHarness>>;

/** The text of a reply, for assertions that read like what the person sees. */
export const said = (replies: Reply[]) => replies.map((r) => r.body.text as string);
