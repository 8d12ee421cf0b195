import { describe, expect, it } from 'vitest';
import { ACTION, encodeValue } from '../../../src/render/blocks/buttons.ts';
import { approveButton } from '../../../src/slack/listeners/actions/approve.ts';
import { requestStageButton } from '../../../src/slack/listeners/actions/request-stage.ts';
import { HOUR } from '../../support/clock.ts';
import type { TestDatabase } from '../../support/db.ts';
import { alice, bob, carol, mallory, soakHealthy } from '../../support/engine.ts';
import { buttonArgs, type ListenerFixture, listenerFixture, type SlackServers } from '../../support/listener.ts';

/**
 * Approve and Request <stage>: buttons that act at once. Ack first, then the core decides, and
 * the clicker is answered privately through the click's response_url (or on the Home tab).
 */
let db: TestDatabase;
let slack: SlackServers;
let t: ListenerFixture['t'];
listenerFixture((f) => ({ db, slack, t } = f));

const transitions = async () => (await db.app.query(`SELECT count(*)::int AS n FROM rollout.audit WHERE action = 'transition'`)).rows[0].n;
const requestD1 = async () => {
  await t.service.handle('d1', alice);
  return encodeValue({ request: 1, run: null, stage: 'd1' });
};

async function approve(user: string, value: string) {
  const click = buttonArgs(slack, user, ACTION.approve, value);
  await approveButton(t.deps)(click.args);
  expect(click.ack.calls).toEqual([undefined]);
  expect(click.replies).toHaveLength(1);
  expect(click.replies[0]).toMatchObject({ response_type: 'ephemeral', replace_original: false });
  return click.replies[0].text as string;
}

describe('Approve', () => {
  it('acks first; enforces the two-person rule and admins only, then starts the stage', async () => {
    const value = await requestD1();
    expect(await approve(alice.id, value)).toContain('another admin must approve it (two-person rule)');
    expect(await approve(mallory.id, value)).toContain('Only rollout admins may approve');
    expect(await transitions()).toBe(0);
    expect(await approve(bob.id, value)).toContain('d1 started');
    expect(slack.timeline).toEqual(['ack', 'respond', 'ack', 'respond', 'ack', 'respond']);
    expect(await transitions()).toBe(1);
    expect(t.kicks.count).toBe(3);
  });

  it('refuses a stale button: the request was rejected meanwhile', async () => {
    const value = await requestD1();
    await t.service.handle('reject 1 wrong time', alice);
    expect(await approve(bob.id, value)).toContain('Request #1 for d1 is already rejected by U_ALICE');
    expect(await transitions()).toBe(0);
  });

  it('refuses a tampered value (another stage, another run, a made-up request, garbage), each audited', async () => {
    const value = JSON.parse(await requestD1());
    const tries = [
      { ...value, stage: 'd3' },
      { ...value, run: 7 },
      { ...value, request: 99 },
      'not json',
      JSON.stringify({ ...value, extra: true }),
    ];
    for (const v of tries)
      expect(await approve(bob.id, typeof v === 'string' ? v : JSON.stringify(v))).toMatch(
        /^Refused: This button does not match any request this bot made/,
      );
    expect(await transitions()).toBe(0);
    const { rows } = await db.app.query(`SELECT count(*)::int AS n FROM rollout.audit WHERE outcome = 'refused' AND action = 'approve'`);
    expect(rows[0].n).toBe(tries.length);
    expect(await approve(bob.id, JSON.stringify(value))).toContain('d1 started');
  });

  it('a click on the Home tab (no response_url) is answered on the Home tab', async () => {
    const value = await requestD1();
    const published = slack.expect('views.publish');
    const click = buttonArgs(slack, bob.id, ACTION.approve, value, { from: 'home' });
    await approveButton(t.deps)(click.args);
    expect(slack.timeline).toEqual(['ack', 'views.publish']);
    expect(published[0].user_id).toBe(bob.id);
    expect(published[0].view.type).toBe('home');
    expect(published[0].view.blocks[1].text.text).toContain(':rocket: *D1* started: FAL 90% / Runware 10%, approved by <@U_BOB>.');
  });
});

describe('Request <stage> (on a ready checklist)', () => {
  const click = async (user: string, value: string) => {
    const c = buttonArgs(slack, user, ACTION.requestStage, value);
    await requestStageButton(t.deps)(c.args);
    expect(slack.timeline.slice(-2)).toEqual(['ack', 'respond']);
    return c.replies[0].text as string;
  };

  async function d1Soaked(): Promise<void> {
    await t.service.handle('d1', alice);
    await t.service.handle('approve 1', bob);
    await soakHealthy(db, t.service, t.clock, HOUR);
  }

  it('requests the next stage, as `/rollout d2` does, while the rollout is where the checklist was', async () => {
    await d1Soaked();
    expect(await click(alice.id, encodeValue({ run: 1, from: 'd1', to: 'd2' }))).toContain('Requested d2 (request #2)');
  });

  it('refuses a button the rollout moved on from, inside the core, audited', async () => {
    await d1Soaked();
    await t.service.handle('rollback done testing', bob);
    expect(await click(alice.id, encodeValue({ run: 1, from: 'd1', to: 'd2' }))).toContain(
      'This button was for rollout #1 at D1; the rollout moved on since.',
    );
    const { rows } = await db.app.query(`SELECT detail->>'code' AS code FROM rollout.audit WHERE outcome = 'refused'`);
    expect(rows).toEqual([{ code: 'stale' }]);
  });

  it('refuses non-admins and values this bot never made', async () => {
    await d1Soaked();
    expect(await click(mallory.id, encodeValue({ run: 1, from: 'd1', to: 'd2' }))).toContain('Only rollout admins may request d2');
    expect(await click(carol.id, '{"run":1}')).toContain('This button does not match anything this bot posted; nothing changed.');
    expect((await db.app.query(`SELECT count(*)::int AS n FROM rollout.requests`)).rows[0].n).toBe(1);
  });
});
