import { describe, expect, it } from 'vitest';
import { appHomeOpened } from '../../../src/slack/listeners/events/app-home-opened.ts';
import type { TestDatabase } from '../../support/db.ts';
import { alice, mallory } from '../../support/engine.ts';
import { type ListenerFixture, listenerFixture, type SlackServers } from '../../support/listener.ts';

/** app_home_opened (Bolt acks events itself): the Home tab is published for that person, who is remembered. */
let db: TestDatabase;
let slack: SlackServers;
let t: ListenerFixture['t'];
listenerFixture((f) => ({ db, slack, t } = f));

const opened = (user: string, tab = 'home') =>
  appHomeOpened(t.deps)({ event: { type: 'app_home_opened', user, channel: 'D0BOTDM', tab, event_ts: '1.1' } } as never);
const viewers = async () => (await db.app.query(`SELECT user_id FROM rollout.home_viewers ORDER BY user_id`)).rows.map((r) => r.user_id);

describe('app_home_opened', () => {
  it('publishes the Home tab for that person, with the admin controls only for admins, and remembers them', async () => {
    await t.service.handle('d1', alice);
    const published = slack.expect('views.publish', { ok: true }, 2);
    await opened(alice.id);
    await opened(mallory.id);
    expect(published.map((p) => [p.user_id, p.view.type])).toEqual([
      [alice.id, 'home'],
      [mallory.id, 'home'],
    ]);
    const buttons = (p: Record<string, any>) => JSON.stringify(p.view.blocks).includes('"type":"button"');
    expect(buttons(published[0])).toBe(true);
    expect(buttons(published[1])).toBe(false);
    expect(await viewers()).toEqual([alice.id, mallory.id]);
  });

  it('ignores the Messages tab', async () => {
    await opened(alice.id, 'messages');
    expect(slack.timeline).toEqual([]);
    expect(await viewers()).toEqual([]);
  });

  it('a views.publish Slack refuses is logged, not thrown (Bolt has acked already)', async () => {
    slack.expect('views.publish', { ok: false, error: 'not_enabled' });
    await expect(opened(alice.id)).resolves.toBeUndefined();
    expect(await viewers()).toEqual([alice.id]);
  });
});
