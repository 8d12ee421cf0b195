import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ACTION } from '../../src/render/blocks/buttons.ts';
import { VIEW } from '../../src/render/blocks/modals.ts';
import { alice, bob, carol } from '../support/engine.ts';
import { slackHarness, type SlackHarness } from '../support/slack-bot.ts';

/**
 * Roll back and Reject ask why in a form (views.open with the click's trigger_id); the
 * submission (view_submission) acts through the command core, and a refusal comes back as an
 * error under the field. All through Bolt's real HTTP receiver; forms and acks are snapshotted.
 * Refusals a listener decides on its own (stale, decided, non-admins, forged forms, bad reasons)
 * are in test/listeners.
 */
let h: SlackHarness;
beforeAll(async () => {
  h = await slackHarness();
});
afterAll(() => h.close());
beforeEach(() => h.reset());

const flag = async () => (await h.db.app.query(`SELECT description FROM feature_flags`)).rows[0]?.description;
const audit = async (action: string) =>
  (await h.db.app.query(`SELECT actor, outcome, detail FROM rollout.audit WHERE action = $1 ORDER BY id`, [action])).rows;

async function startD1() {
  await h.command(alice.id, 'd1');
  await h.flush();
  await h.click(bob.id, ACTION.approve, h.buttonValue(ACTION.approve));
  await h.flush();
}

describe('Roll back', () => {
  it('opens a form asking why; the reason is required and goes into the audit row and the alert', async () => {
    await startD1();
    const form = await h.clickForm(carol.id, ACTION.rollback, h.buttonValue(ACTION.rollback));
    expect(form).toMatchSnapshot('the Roll back form');
    expect(h.fake.views('views.open').at(-1)!.body.trigger_id).toBe('1.2.3');
    expect(await flag()).toContain('(D1)');

    expect(await h.submitForm(carol.id, form, '   ')).toEqual({
      response_action: 'errors',
      errors: { reason: 'Say why: the reason goes into the audit log and the alert.' },
    });
    expect(await flag()).toContain('(D1)');

    const done = await h.submitForm(carol.id, form, 'Runware 5xx in eu-west');
    expect(done).toMatchSnapshot('ack: the form shows the result');
    expect(await flag()).toBe('Provider weights: 100% FAL, 0% Runware (Manual Rollback)');
    expect((await audit('rollback'))[0]).toMatchObject({ actor: carol.id, outcome: 'done', detail: { reason: 'Runware 5xx in eu-west' } });
    await h.flush();
    const alert = h.fake.calls.find((c) => c.method === 'chat.postMessage' && String(c.body.text).includes('rolled back'))!;
    expect(JSON.stringify(alert.body.blocks)).toContain('Reason: Runware 5xx in eu-west');
  });

  it('a click on an old Roll back opens the form, then says there is nothing to do (audited)', async () => {
    await startD1();
    const old = h.buttonValue(ACTION.rollback);
    await h.command(bob.id, 'rollback');
    await h.clickForm(carol.id, ACTION.rollback, old);
    await h.fake.until(() => h.fake.views('views.update').length === 1, 'the form replaced by the refusal');
    const update = h.fake.views('views.update')[0].body;
    expect(update.view_id).toBe('V000001'); // the id the stand-in Slack gave the form it opened
    expect(update.view).toMatchSnapshot('the stale form');
    expect((await audit('rollback')).at(-1)).toMatchObject({ actor: carol.id, outcome: 'refused', detail: { code: 'stale' } });
  });

  it('opens from the Home tab too, which has no response_url', async () => {
    await startD1();
    const home = await h.openHome(carol.id);
    const rollback = home.blocks
      .filter((b: any) => b.type === 'actions')
      .flatMap((b: any) => b.elements)
      .find((e: any) => e.action_id === ACTION.rollback);
    const form = await h.clickForm(carol.id, ACTION.rollback, rollback.value, 'home');
    expect(form.callback_id).toBe(VIEW.rollbackReason);
    expect((await h.submitForm(carol.id, form, 'from home')).response_action).toBe('update');
    await h.flush();
    expect(JSON.stringify(h.home(carol.id))).toContain('*Stage: rolled back*');
  });
});

describe('Reject', () => {
  it('opens a form where the reason is optional; with one, it is the decision note in the message and the audit', async () => {
    await h.command(alice.id, 'd1');
    await h.flush();
    const form = await h.clickForm(bob.id, ACTION.reject, h.buttonValue(ACTION.reject));
    expect(form).toMatchSnapshot('the Reject form');
    const done = await h.submitForm(bob.id, form, 'wait for the EU peak');
    expect(done.view.blocks[0].text.text).toBe(':x: Request #1 for *D1* rejected: wait for the EU peak.');
    await h.flush();
    const update = h.fake.calls.find((c) => c.method === 'chat.update')!;
    expect((update.body.blocks as any[]).at(-1).text.text).toContain('*Rejected* by <@U_BOB> at 10:00 UTC: wait for the EU peak.');
    expect((await audit('reject'))[0]).toMatchObject({ actor: bob.id, outcome: 'done', detail: { reason: 'wait for the EU peak' } });
  });
});
