import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ACTION } from '../../src/render/blocks/buttons.ts';
import { HomePublisher } from '../../src/slack/home.ts';
import { silentLogger } from '../../src/log.ts';
import { alice, bob, carol, mallory } from '../support/engine.ts';
import { slackHarness, type SlackHarness } from '../support/slack-bot.ts';
import { homeOpenedEvent, postSignedJson } from '../support/slack-requests.ts';

/**
 * The Home tab through Bolt's real HTTP receiver: app_home_opened arrives as a signed JSON
 * event, the bot answers with views.publish to the stand-in Slack. The views are snapshotted.
 */
let h: SlackHarness;
beforeAll(async () => {
  h = await slackHarness();
});
afterAll(() => h.close());
beforeEach(() => h.reset());

const texts = (view: any): string[] =>
  view.blocks.flatMap((b: any) =>
    [
      b.text?.text,
      ...(b.fields ?? []).map((f: any) => f.text),
      ...(b.elements ?? []).map((e: any) => e.text?.text ?? e.text),
      b.alt_text,
    ].filter(Boolean),
  );
const buttons = (view: any): { action: string; text: string; value: string }[] =>
  view.blocks
    .filter((b: any) => b.type === 'actions')
    .flatMap((b: any) => b.elements.map((e: any) => ({ action: e.action_id, text: e.text.text, value: e.value })));

async function startD1() {
  await h.command(alice.id, 'd1');
  await h.flush();
  await h.click(bob.id, ACTION.approve, h.buttonValue(ACTION.approve));
  await h.flush();
}

describe('app_home_opened', () => {
  it('publishes the rollout at a glance to whoever opened it: admins get the buttons, others the same facts without', async () => {
    await h.command(alice.id, 'd1');
    await h.flush();
    const admin = await h.openHome(carol.id);
    expect(admin.type).toBe('home');
    expect(admin).toMatchSnapshot('idle with an open request, as an admin');
    expect(buttons(admin).map((b) => b.text)).toEqual(['Approve D1', 'Reject']);

    const other = await h.openHome(mallory.id);
    expect(buttons(other)).toEqual([]);
    expect(texts(other)).toContain('Only rollout admins see the buttons here.');
    // The same facts: every block but the buttons and that line.
    const facts = (v: any) =>
      v.blocks.filter((b: any) => b.type !== 'actions' && !texts({ blocks: [b] }).includes('Only rollout admins see the buttons here.'));
    expect(facts(other)).toEqual(facts(admin));
  });

  it('shows stage, weights, soak, each red line, the latest chart and the last 10 history entries during a stage', async () => {
    await startD1();
    for (let i = 0; i < 12; i++) await h.command(mallory.id, 'd2');
    // A chart the channel got (the chart poster records the file it shared).
    await h.db.app.query(
      `INSERT INTO rollout.chart_jobs (key, channel, thread_ts, request, created_at, file_id, done_at, bytes) VALUES ('event:9', 'C0ROLLOUT', '1764324000.000002', $1, $2, 'F0CHART1', $2, 36000)`,
      [JSON.stringify({ kind: 'stage', runId: 1, fromMs: 0, toMs: 1, title: 'Stage D1: 90% FAL, 10% Runware', marks: [] }), h.clock.now()],
    );
    const view = await h.openHome(bob.id);
    expect(view).toMatchSnapshot('D1 active, as an admin');
    const all = texts(view).join('\n');
    expect(all).toContain('*Stage: D1* since 2026-11-28 10:00 UTC');
    expect(all).toContain('*Soak*: 0s of 1h (1h left)');
    // Each red line with both providers side by side: Runware judged (bold), FAL beside it.
    expect(all).toMatch(/\*p95 latency\* ≥ 8\.00 s · 5m window: no data/);
    expect(all).toContain('*Runware*  —  ·  n=0');
    expect(all).toContain('FAL  —  ·  n=0');
    expect(view.blocks.find((b: any) => b.type === 'image')).toMatchObject({ slack_file: { id: 'F0CHART1' } });
    expect(view.blocks.filter((b: any) => b.type === 'context' && /^2026-11-28 \d\d:\d\d UTC · /.test(b.elements[0].text))).toHaveLength(
      10,
    );
    expect(buttons(view)).toEqual([{ action: ACTION.rollback, text: 'Roll back D1', value: JSON.stringify({ run: 1, stage: 'd1' }) }]);
  });

  it('ignores the Messages tab, and events whose signature is wrong', async () => {
    await postSignedJson(h.port, {
      ...homeOpenedEvent(alice.id),
      event: { ...(homeOpenedEvent(alice.id).event as object), tab: 'messages' },
    });
    const forged = await postSignedJson(h.port, homeOpenedEvent(alice.id), { secret: 'wrong' });
    expect(forged.status).toBe(401);
    await h.openHome(bob.id);
    expect(h.fake.views('views.publish').map((c) => c.body.user_id)).toEqual([bob.id]);
  });
});

describe('republishing when the rollout changes', () => {
  it('republishes for people who opened the Home tab in the last hour, not for earlier ones', async () => {
    await h.openHome(alice.id);
    h.clock.advance(30 * 60_000);
    await h.openHome(carol.id);
    h.clock.advance(31 * 60_000);
    h.fake.clear();
    await h.command(bob.id, 'd1');
    await h.flush();
    expect(h.fake.views('views.publish').map((c) => c.body.user_id)).toEqual([carol.id]);
    expect(buttons(h.home(carol.id)).map((b) => b.text)).toEqual(['Approve D1', 'Reject']);
  });

  it('coalesces: many changes in a burst make one publish per viewer', async () => {
    await h.openHome(alice.id);
    await h.openHome(carol.id);
    h.fake.clear();
    await h.command(bob.id, 'd1');
    await h.command(alice.id, 'reject');
    await h.command(bob.id, 'd1');
    await h.flush();
    const publishes = h.fake.views('views.publish');
    // Three events (opened, rejected, opened) would be 6 publishes one by one; passes are at
    // least 10 s apart, so the burst is at most the first pass and one coalesced pass.
    expect(publishes.length).toBeLessThanOrEqual(2 * 2);
    expect(publishes.map((c) => c.body.user_id).sort()).toEqual(expect.arrayContaining([alice.id, carol.id]));
    // The last one each saw is the current state: request #2 open.
    expect(texts(h.home(alice.id)).join('\n')).toContain('*Open request #2*');
    // A change right after a pass waits for the interval instead of publishing again at once.
    h.front.home.stateChanged();
    expect(h.front.home.dueInMs()).toBeGreaterThan(9_000);
  });

  it('a 429 on views.publish waits for Retry-After instead of hammering Slack', async () => {
    const home = new HomePublisher({ service: h.service, web: h.front.web, log: silentLogger, minIntervalMs: 0 });
    await h.openHome(alice.id);
    await h.openHome(carol.id);
    h.fake.clear();
    h.fake.failNextOf('views.publish', { status: 429, retryAfter: 30 });
    home.stateChanged();
    await home.flush();
    // One refused call, then the pass stopped: carol was not tried behind the 429.
    expect(h.fake.views('views.publish')).toHaveLength(1);
    // Retry-After is 30 s: the next pass waits for it, however often the state changes.
    home.stateChanged();
    home.stateChanged();
    expect(home.dueInMs()).toBeGreaterThan(29_000);
    await home.stop();
    expect(h.fake.views('views.publish')).toHaveLength(1);
  });
});

describe('a Home tab that stays true while a stage runs', () => {
  /** The timed refresh as the leader runs it (or a standby, with isLeader false), on the harness's fake clock. */
  const publisher = (opts: { leader?: boolean; refreshPerMinute?: number } = {}) =>
    new HomePublisher({
      service: h.service,
      web: h.front.web,
      log: silentLogger,
      isLeader: () => opts.leader ?? true,
      refreshPerMinute: opts.refreshPerMinute,
    });
  const soakLine = (view: any) =>
    texts(view)
      .flatMap((t) => t.split('\n'))
      .find((t) => t.startsWith('*Soak*'));
  /** Opens the Home tab and waits until its publish is recorded (the listener records it after Slack answered). */
  const open = async (user: string) => {
    await h.openHome(user);
    for (let i = 0; i < 100; i++) {
      const { rows } = await h.db.app.query('SELECT published_at FROM rollout.home_viewers WHERE user_id = $1', [user]);
      if (rows[0]?.published_at?.getTime() === h.clock.now().getTime()) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`the Home tab publish for ${user} was not recorded`);
  };

  it("a recent viewer's soak countdown is never more than a minute stale, and is republished at most once a minute", async () => {
    await startD1();
    const home = publisher();
    await open(alice.id);
    h.fake.clear();
    const stalest: number[] = [];
    let lastAt = h.clock.now().getTime();
    const publishedAt: number[] = [];
    // Ten minutes in 10 s steps, a timed pass at each: what the Home tab shows is at most 60 s old.
    for (let i = 0; i < 60; i++) {
      h.clock.advance(10_000);
      const before = h.fake.views('views.publish', alice.id).length;
      await home.refresh();
      if (h.fake.views('views.publish', alice.id).length > before) {
        lastAt = h.clock.now().getTime();
        publishedAt.push(lastAt);
      }
      stalest.push(h.clock.now().getTime() - lastAt);
    }
    expect(Math.max(...stalest)).toBeLessThanOrEqual(60_000);
    const gaps = publishedAt.slice(1).map((t, i) => t - publishedAt[i]);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(60_000);
    expect(h.fake.views('views.publish')).toHaveLength(10);
    // What it shows is the countdown at that minute: 10 min into a 1 h soak, 50 min left.
    expect(soakLine(h.home(alice.id))).toBe('*Soak*: 10m of 1h (50m left)');
    await home.stop();
  });

  it('none for people who opened it over an hour ago, none when no stage runs, none from a standby', async () => {
    await open(carol.id);
    await open(alice.id);
    const leader = publisher();
    const standby = publisher({ leader: false });
    h.fake.clear();
    // Idle: nothing to count down.
    for (let i = 0; i < 6; i++) {
      h.clock.advance(60_000);
      await leader.refresh();
    }
    expect(h.fake.views('views.publish')).toHaveLength(0);
    await startD1();
    h.fake.clear();
    // carol opened it 66 min ago by the end; alice keeps it open (opens it again) and gets it each minute.
    h.clock.advance(54 * 60_000);
    await open(alice.id);
    h.fake.clear();
    for (let i = 0; i < 5; i++) {
      h.clock.advance(60_000);
      await standby.refresh();
    }
    expect(h.fake.views('views.publish')).toHaveLength(0);
    for (let i = 0; i < 5; i++) {
      h.clock.advance(60_000);
      await leader.refresh();
    }
    expect(h.fake.views('views.publish').map((c) => c.body.user_id)).toEqual(Array(5).fill(alice.id));
    // The run ends: no more timed refreshes.
    await h.command(bob.id, 'rollback');
    await h.flush();
    h.fake.clear();
    for (let i = 0; i < 3; i++) {
      h.clock.advance(60_000);
      await leader.refresh();
    }
    expect(h.fake.views('views.publish')).toHaveLength(0);
    await leader.stop();
    await standby.stop();
  });

  it('an event republish counts: the timed refresh waits a minute after it; past refreshPerMinute the stalest go first', async () => {
    await startD1();
    const home = publisher({ refreshPerMinute: 2 });
    for (const u of [alice.id, bob.id, carol.id]) await open(u);
    h.fake.clear();
    // 30 s later a change republishes everyone's; the timed refresh finds nobody due 40 s after.
    h.clock.advance(30_000);
    // A forced request opens (an event): everyone who looks gets it now.
    await h.command(alice.id, 'd2 --force');
    await h.flush();
    expect(h.fake.views('views.publish')).toHaveLength(3);
    h.fake.clear();
    h.clock.advance(40_000);
    await home.refresh();
    expect(h.fake.views('views.publish')).toHaveLength(0);
    // At 60 s all three are due, but only two fit in this minute; the third waits for the minute to pass.
    h.clock.advance(20_000);
    await home.refresh();
    const first = h.fake.views('views.publish').map((c) => c.body.user_id);
    expect(first).toHaveLength(2);
    h.clock.advance(30_000);
    await home.refresh();
    expect(h.fake.views('views.publish')).toHaveLength(2);
    // A minute after those two: the one left out goes first (the stalest), then one of the others.
    h.clock.advance(30_000);
    await home.refresh();
    const next = h.fake
      .views('views.publish')
      .map((c) => c.body.user_id)
      .slice(2);
    expect(next).toHaveLength(2);
    expect(next[0]).toBe([alice.id, bob.id, carol.id].find((u) => !first.includes(u)));
    await home.stop();
  });
});

describe('clicks on the Home tab', () => {
  it('Approve acts directly and the answer appears on top of the Home tab (it has no response_url)', async () => {
    await h.command(alice.id, 'd1');
    await h.flush();
    const home = await h.openHome(bob.id);
    const approve = buttons(home).find((b) => b.action === ACTION.approve)!;
    const answered = await h.clickHome(bob.id, ACTION.approve, approve.value);
    expect(texts(answered)[1]).toContain(':rocket: *D1* started');
    await h.flush();
    const after = h.home(bob.id);
    expect(texts(after).join('\n')).toContain('*Stage: D1*');
    expect(buttons(after).map((b) => b.text)).toEqual(['Roll back D1']);
  });

  it('an old Approve from a Home tab left open acts on nothing the rollout moved past', async () => {
    await h.command(alice.id, 'd1');
    await h.flush();
    const stale = buttons(await h.openHome(bob.id)).find((b) => b.action === ACTION.approve)!;
    await h.command(alice.id, 'reject');
    const answered = await h.clickHome(bob.id, ACTION.approve, stale.value);
    expect(texts(answered)[1]).toContain('Refused*: Request #1 for d1 is already rejected by U_ALICE');
    expect((await h.db.app.query(`SELECT count(*)::int AS n FROM rollout.runs`)).rows[0].n).toBe(0);
  });
});
