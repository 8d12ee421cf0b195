import { afterEach, describe, expect, it } from 'vitest';
import { encodeValue } from '../../../src/render/blocks/buttons.ts';
import { VIEW } from '../../../src/render/blocks/modals.ts';
import { rejectReasonSubmitted } from '../../../src/slack/listeners/views/reject-reason.ts';
import { rollbackReasonSubmitted } from '../../../src/slack/listeners/views/rollback-reason.ts';
import type { TestDatabase } from '../../support/db.ts';
import { alice, bob, carol } from '../../support/engine.ts';
import { type ListenerFixture, listenerFixture, type SlackServers, submissionArgs } from '../../support/listener.ts';

/**
 * A reason form's submission is acked only once the core has decided: a refusal comes back as
 * an error under the field (the form stays open), a result replaces the form. Nothing else is
 * sent to Slack from here; the channel hears of it through the outbox (kicked).
 */
let db: TestDatabase;
let slack: SlackServers;
let t: ListenerFixture['t'];
listenerFixture((f) => ({ db, slack, t } = f));
// A submission answers only through its ack (before the fixture checks every expected request was made).
afterEach(() => expect(slack.timeline.every((s) => s === 'ack')).toBe(true));

const flag = async () => (await db.app.query(`SELECT description FROM feature_flags`)).rows[0]?.description;
const audit = async (action: string) =>
  (await db.app.query(`SELECT actor, outcome, detail FROM rollout.audit WHERE action = $1 ORDER BY id`, [action])).rows;

async function atD1(): Promise<void> {
  await t.service.handle('d1', alice);
  await t.service.handle('approve 1', bob);
}

describe('the Roll back form', () => {
  const form = { callback_id: VIEW.rollbackReason, private_metadata: encodeValue({ run: 1, stage: 'd1' }) };
  const submit = async (reason: string | null, f = form) => {
    const s = submissionArgs(slack, carol.id, f, reason);
    await rollbackReasonSubmitted(t.deps)(s.args);
    expect(s.ack.calls).toHaveLength(1);
    return s.ack.calls[0] as any;
  };

  it('requires a reason, then rolls back with it: one ack that replaces the form with the result', async () => {
    await atD1();
    expect(await submit('   ')).toEqual({
      response_action: 'errors',
      errors: { reason: 'Say why: the reason goes into the audit log and the alert.' },
    });
    expect(await flag()).toContain('(D1)');
    expect(t.kicks.count).toBe(0);

    const done = await submit('Runware 5xx in eu-west');
    expect(done.response_action).toBe('update');
    expect(done.view.title.text).toBe('Done');
    expect(done.view.blocks[0].text.text).toContain('*Rolled back*');
    expect(await flag()).toBe('Provider weights: 100% FAL, 0% Runware (Manual Rollback)');
    expect((await audit('rollback'))[0]).toMatchObject({ actor: carol.id, outcome: 'done', detail: { reason: 'Runware 5xx in eu-west' } });
    expect(t.kicks.count).toBe(1);
  });

  it('refused in the form when the rollout moved on, and nothing changes (audited)', async () => {
    await atD1();
    await t.service.handle('rollback wrong region', bob);
    await t.service.handle('d1', alice);
    await t.service.handle('approve 2', bob);
    expect(await submit('latency')).toEqual({
      response_action: 'errors',
      errors: {
        reason:
          'Refused: This was for D1 of rollout #1; the rollout is now D1 (rollout #2). Nothing changed; use `/rollout rollback` if it still needs rolling back.',
      },
    });
    expect(await flag()).toContain('(D1)');
    expect((await audit('rollback')).map((r) => [r.actor, r.outcome, r.detail.code ?? null])).toEqual([
      [bob.id, 'done', null],
      [carol.id, 'refused', 'stale'],
    ]);
  });

  it('refuses a reason with control characters and metadata this bot never made', async () => {
    await atD1();
    expect((await submit('bad\u0007bell')).errors.reason).toContain('control or invisible characters');
    const forged = await submit('because', { callback_id: VIEW.rollbackReason, private_metadata: '{"run":1,"stage":"d1","x":1}' });
    expect(forged.errors.reason).toContain('This form does not match anything this bot made');
    expect(await flag()).toContain('(D1)');
  });
});

describe('the Reject form', () => {
  const form = { callback_id: VIEW.rejectReason, private_metadata: encodeValue({ request: 1, run: null, stage: 'd1' }) };
  const submit = async (user: string, reason: string | null) => {
    const s = submissionArgs(slack, user, form, reason);
    await rejectReasonSubmitted(t.deps)(s.args);
    expect(s.ack.calls).toHaveLength(1);
    return s.ack.calls[0] as any;
  };

  it('rejects with the reason as the decision note; a blank reason is fine', async () => {
    await t.service.handle('d1', alice);
    const done = await submit(bob.id, 'wait for the EU peak');
    expect(done.response_action).toBe('update');
    expect(done.view.blocks[0].text.text).toBe(':x: Request #1 for *D1* rejected: wait for the EU peak.');
    expect((await audit('reject'))[0]).toMatchObject({ actor: bob.id, outcome: 'done', detail: { reason: 'wait for the EU peak' } });

    await t.service.handle('d1', alice);
    const blank = submissionArgs(slack, bob.id, { ...form, private_metadata: encodeValue({ request: 2, run: null, stage: 'd1' }) }, null);
    await rejectReasonSubmitted(t.deps)(blank.args);
    expect((blank.ack.calls[0] as any).view.blocks[0].text.text).toBe(':x: Request #2 for *D1* rejected.');
  });

  it('refused in the form when the request was decided meanwhile; the approval stands', async () => {
    await t.service.handle('d1', alice);
    await t.service.handle('approve 1', carol);
    const refused = await submit(bob.id, 'too late');
    expect(refused.errors.reason).toMatch(/^Refused: Request #1 for d1 is already approved by U_CAROL at 10:00 UTC; nothing changed\.$/);
    expect(await flag()).toContain('(D1)');
  });
});
