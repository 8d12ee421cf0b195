import { decisionValue, parseValue } from '../../../render/blocks/buttons.ts';
import { rejectModal } from '../../../render/blocks/modals.ts';
import { refuseButton, slackActor, type ListenerDeps } from '../../answer.ts';
import { buttonListener, isAdmin, type ButtonArgs } from './button.ts';
import { decide, matchRequest } from './decide.ts';
import { openForm } from './form.ts';

/**
 * "Reject" opens a form asking why (optional); its submission (views/reject-reason.ts) rejects.
 * A request already decided is said so in the form at once.
 */
export const rejectButton = (deps: ListenerDeps) => {
  const refuseAtOnce = buttonListener(deps, (actor, raw) => decide(deps, actor, raw, 'reject'));
  return async (args: ButtonArgs) => {
    const actor = slackActor(args.body.user.id);
    const value = parseValue(decisionValue, args.action.value);
    if (!value || !isAdmin(deps, actor)) return refuseAtOnce(args);
    await args.ack();
    await openForm(deps, args, rejectModal(value), async () => {
      const matched = await matchRequest(deps, actor, 'reject', args.action.value);
      if ('outcome' in matched) return matched;
      const r = matched.request;
      if (r.status === 'pending') return null;
      return refuseButton(
        deps,
        actor,
        'reject',
        'decided',
        `Request #${r.id} for ${r.toStage} is already ${r.status}${r.decidedBy ? ` by ${r.decidedBy}` : ''}; nothing to reject.`,
        { button: value },
      );
    });
  };
};
