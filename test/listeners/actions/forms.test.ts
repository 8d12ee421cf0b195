import { describe, expect, it } from 'vitest';
import { ACTION, encodeValue } from '../../../src/render/blocks/buttons.ts';
import { rejectModal, rollbackModal } from '../../../src/render/blocks/modals.ts';
import { rejectButton } from '../../../src/slack/listeners/actions/reject.ts';
import { rollbackButton } from '../../../src/slack/listeners/actions/rollback.ts';
import type { TestDatabase } from '../../support/db.ts';
import { alice, bob, carol, mallory } from '../../support/engine.ts';
import { buttonArgs, type ListenerFixture, listenerFixture, type SlackServers } from '../../support/listener.ts';

/**
 * Roll back and Reject open a form (views.open with the click's trigger_id, which is good for
 * 3 s: so right after the ack, before the database); a click that no longer applies has its
 * form replaced by why (views.update), audited. Non-admins and values this bot never made get
 * no form: refused at once, privately.
 */
let db: TestDatabase;
let slack: SlackServers;
let t: ListenerFixture['t'];
listenerFixture((f) => ({ db, slack, t } = f));

const audit = async (action: string) =>
  (await db.app.query(`SELECT actor, outcome, detail FROM rollout.audit WHERE action = $1 ORDER BY id`, [action])).rows;
const flag = async () => (await db.app.query(`SELECT description FROM feature_flags`)).rows[0]?.description;
const opened = { ok: true, view: { id: 'V0FORM1' } };

async function atD1(): Promise<void> {
  await t.service.handle('d1', alice);
  await t.service.handle('approve 1', bob);
}

describe('Roll back', () => {
  const current = { run: 1, stage: 'd1' };

  it('acks, then opens the form for the run and stage it was shown for; nothing else while it still applies', async () => {
    await atD1();
    const open = slack.expect('views.open', opened);
    const click = buttonArgs(slack, carol.id, ACTION.rollback, encodeValue(current), { replies: 0 });
    await rollbackButton(t.deps)(click.args);
    expect(slack.timeline).toEqual(['ack', 'views.open']);
    expect(open).toEqual([{ trigger_id: '1.2.3', view: rollbackModal(t.service.plan, current) }]);
    expect(await flag()).toContain('(D1)');
    expect(await audit('rollback')).toEqual([]);
  });

  it('an old button opens the form, then replaces it with why nothing will happen (audited)', async () => {
    await atD1();
    await t.service.handle('rollback wrong region', bob);
    slack.expect('views.open', opened);
    const update = slack.expect('views.update');
    await rollbackButton(t.deps)(buttonArgs(slack, carol.id, ACTION.rollback, encodeValue(current), { replies: 0 }).args);
    expect(slack.timeline).toEqual(['ack', 'views.open', 'views.update']);
    expect(update[0].view_id).toBe('V0FORM1');
    expect(update[0].view.title.text).toBe('Nothing to do');
    expect(update[0].view.blocks[0].text.text).toContain(
      'This button was for D1 of rollout #1; the rollout is now ROLLED BACK (rollout #1). Nothing changed; use `/rollout rollback` if it still needs rolling back.',
    );
    expect((await audit('rollback')).map((r) => [r.actor, r.outcome, r.detail.code ?? null])).toEqual([
      [bob.id, 'done', null],
      [carol.id, 'refused', 'stale'],
    ]);
  });

  it('non-admins and values this bot never made get no form: refused at once, privately', async () => {
    await atD1();
    const nonAdmin = buttonArgs(slack, mallory.id, ACTION.rollback, encodeValue(current));
    await rollbackButton(t.deps)(nonAdmin.args);
    expect(nonAdmin.replies[0].text).toContain('Only rollout admins may rollback');
    const forged = buttonArgs(slack, carol.id, ACTION.rollback, '{"run":1}');
    await rollbackButton(t.deps)(forged.args);
    expect(forged.replies[0]).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(forged.replies[0].text).toContain('This button does not match anything this bot posted');
    expect(slack.timeline).toEqual(['ack', 'respond', 'ack', 'respond']);
    expect(await flag()).toContain('(D1)');
  });

  it('when Slack does not open the form, says so and what to type instead; nothing changes', async () => {
    await atD1();
    slack.expect('views.open', { ok: false, error: 'expired_trigger_id' });
    const click = buttonArgs(slack, carol.id, ACTION.rollback, encodeValue(current));
    await rollbackButton(t.deps)(click.args);
    expect(slack.timeline).toEqual(['ack', 'views.open', 'respond']);
    expect(click.replies[0].text).toBe(
      'Slack did not open the form (An API error occurred: expired_trigger_id (slack_webapi_platform_error)). Nothing changed; use `/rollout rollback <reason>` instead.',
    );
    expect(await flag()).toContain('(D1)');
  });

  it('a non-admin clicking on the Home tab is answered there', async () => {
    await atD1();
    const published = slack.expect('views.publish');
    await rollbackButton(t.deps)(buttonArgs(slack, mallory.id, ACTION.rollback, encodeValue(current), { from: 'home' }).args);
    expect(slack.timeline).toEqual(['ack', 'views.publish']);
    expect(published[0].user_id).toBe(mallory.id);
    expect(JSON.stringify(published[0].view.blocks)).toContain('Only rollout admins may rollback');
  });
});

describe('Reject', () => {
  const value = { request: 1, run: null, stage: 'd1' };

  it('acks, then opens the form for the request; nothing else while it is pending', async () => {
    await t.service.handle('d1', alice);
    const open = slack.expect('views.open', opened);
    await rejectButton(t.deps)(buttonArgs(slack, bob.id, ACTION.reject, encodeValue(value), { replies: 0 }).args);
    expect(slack.timeline).toEqual(['ack', 'views.open']);
    expect(open).toEqual([{ trigger_id: '1.2.3', view: rejectModal(value) }]);
    expect(await audit('reject')).toEqual([]);
  });

  it('a request decided meanwhile: the form says so at once (audited)', async () => {
    await t.service.handle('d1', alice);
    await t.service.handle('approve 1', carol);
    slack.expect('views.open', opened);
    const update = slack.expect('views.update');
    await rejectButton(t.deps)(buttonArgs(slack, bob.id, ACTION.reject, encodeValue(value), { replies: 0 }).args);
    expect(slack.timeline).toEqual(['ack', 'views.open', 'views.update']);
    expect(update[0].view.blocks[0].text.text).toMatch(/Request #1 for d1 is already approved by U_CAROL; nothing to reject\./);
    expect((await audit('reject')).map((r) => [r.actor, r.outcome, r.detail.code])).toEqual([[bob.id, 'refused', 'decided']]);
  });

  it('non-admins and unreadable values get no form: refused at once, privately (audited)', async () => {
    await t.service.handle('d1', alice);
    const nonAdmin = buttonArgs(slack, mallory.id, ACTION.reject, encodeValue(value));
    await rejectButton(t.deps)(nonAdmin.args);
    expect(nonAdmin.replies[0].text).toContain('Only rollout admins may reject');
    const garbage = buttonArgs(slack, bob.id, ACTION.reject, 'not json');
    await rejectButton(t.deps)(garbage.args);
    expect(garbage.replies[0].text).toMatch(/^Refused: This button does not match any request this bot made \(unreadable value\)/);
    expect((await audit('reject')).map((r) => [r.actor, r.outcome])).toEqual([
      [mallory.id, 'refused'],
      [bob.id, 'refused'],
    ]);
  });

  it('when Slack does not open the form, says what to type instead', async () => {
    await t.service.handle('d1', alice);
    slack.expect('views.open', { ok: false, error: 'expired_trigger_id' });
    const click = buttonArgs(slack, bob.id, ACTION.reject, encodeValue(value));
    await rejectButton(t.deps)(click.args);
    expect(click.replies[0].text).toContain('use `/rollout reject [reason]` instead.');
  });
});
