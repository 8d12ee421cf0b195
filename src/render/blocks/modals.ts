import type { Plan } from '../../plan/plan.ts';
import { MAX_REASON_LENGTH } from '../../core/commands.ts';
import { weightsLine } from '../format.ts';
import { encodeValue, type DecisionValue, type RollbackValue } from './buttons.ts';
import { plain, section, upper } from './common.ts';
import { fitView, type Block, type Message, type ModalView } from './limits.ts';

/** Callback ids of the forms; the view listeners are registered under them. */
export const VIEW = {
  rollbackReason: 'rollout_rollback_reason',
  rejectReason: 'rollout_reject_reason',
} as const;

/** The one input of both forms; its errors are shown under it. */
export const REASON = { block: 'reason', action: 'reason' } as const;

function reasonInput(label: string, optional: boolean, placeholder: string): Block {
  return {
    type: 'input',
    block_id: REASON.block,
    label: plain(label),
    optional,
    element: {
      type: 'plain_text_input',
      action_id: REASON.action,
      multiline: true,
      max_length: MAX_REASON_LENGTH,
      placeholder: plain(placeholder),
    },
  };
}

/**
 * Roll back asks why (required): the reason goes into the audit row and the channel's alert.
 * private_metadata carries the run and stage the button was made for, checked again when the
 * form is submitted, inside the core's transaction.
 */
export function rollbackModal(plan: Plan, v: RollbackValue): ModalView {
  return fitView({
    type: 'modal',
    callback_id: VIEW.rollbackReason,
    private_metadata: encodeValue(v),
    title: plain(`Roll back ${upper(v.stage)}`),
    submit: plain('Roll back'),
    close: plain('Cancel'),
    blocks: [
      section(
        `All traffic goes back to ${plan.providerNames[plan.from]}: *${weightsLine(plan, plan.rollbackWeights)}*. No approval needed.\nThis is for *${upper(v.stage)}* of rollout #${v.run}: if the rollout has moved on by the time you submit, nothing changes.`,
      ),
      reasonInput('Why roll back?', false, 'e.g. Runware 5xx in eu-west'),
    ],
  });
}

/** Reject asks why too, but may be left blank. */
export function rejectModal(v: DecisionValue): ModalView {
  return fitView({
    type: 'modal',
    callback_id: VIEW.rejectReason,
    private_metadata: encodeValue(v),
    title: plain(`Reject ${upper(v.stage)}`),
    submit: plain('Reject'),
    close: plain('Cancel'),
    blocks: [
      section(`Reject request #${v.request} for *${upper(v.stage)}*. The requester can ask again later.`),
      reasonInput('Why? (optional)', true, 'e.g. wait until the EU peak is over'),
    ],
  });
}

/** A form that only tells (the result, or why nothing happened): no submit button. */
export function noticeModal(title: string, message: Message): ModalView {
  return fitView({
    type: 'modal',
    callback_id: 'rollout_notice',
    private_metadata: '',
    title: plain(title),
    close: plain('Close'),
    blocks: message.blocks,
  });
}
