import type { Reply } from '../../../core/outcomes.ts';
import { describeError } from '../../../engine/errors.ts';
import { outcomeMessage } from '../../../render/blocks/outcome.ts';
import { noticeModal } from '../../../render/blocks/modals.ts';
import type { ModalView } from '../../../render/blocks/limits.ts';
import { replyChannel, type ListenerDeps } from '../../answer.ts';
import type { ButtonArgs } from './button.ts';

/**
 * Opens a form for a click (Roll back, Reject). The click's trigger_id is good for 3 s, so the
 * form opens right after the ack, before the database is touched. Then `check` looks at whether
 * the click still applies; if it does not, the open form is replaced by why nothing will happen
 * (the refusal is audited by `check`), so nobody types a reason for a rollout that moved on.
 */
export async function openForm(deps: ListenerDeps, args: ButtonArgs, form: ModalView, check: () => Promise<Reply | null>): Promise<void> {
  const { body, client } = args;
  const { plan } = deps.service;
  const log = deps.log.child({ component: 'slack', user: body.user.id, action: args.action.action_id });
  let viewId: string | undefined;
  try {
    viewId = (await client.views.open({ trigger_id: body.trigger_id, view: form as never })).view?.id;
  } catch (err) {
    log.warn('slack: could not open the form', { error: describeError(err) });
    const words = form.callback_id.includes('rollback') ? '`/rollout rollback <reason>`' : '`/rollout reject [reason]`';
    const message = outcomeMessage(plan, {
      kind: 'error',
      message: `Slack did not open the form (${describeError(err)}). Nothing changed; use ${words} instead.`,
    });
    await replyChannel(deps, body.user.id, args.respond)(message, false).catch(() => {});
    return;
  }
  let refusal: Reply | null;
  try {
    refusal = await check();
  } catch (err) {
    // The submission goes through the core, which checks again and says what is wrong.
    log.warn('slack: could not check the click before the form was filled in', { error: describeError(err) });
    return;
  }
  if (!refusal || !viewId) return;
  try {
    await client.views.update({ view_id: viewId, view: noticeModal('Nothing to do', outcomeMessage(plan, refusal.outcome)) as never });
  } catch (err) {
    log.warn('slack: could not show the refusal in the form', { error: describeError(err) });
  }
}
