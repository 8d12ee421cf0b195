import type { Plan } from '../../plan/plan.ts';
import { weightsLine } from '../format.ts';
import { ACTION, encodeValue } from './buttons.ts';
import { button, confirm, upper } from './common.ts';
import type { ButtonElement } from './limits.ts';

/**
 * The buttons that change the rollout, shared by every surface (channel messages, the Home tab)
 * so one listener and one staleness rule serve them all. Roll back and Reject open a form that
 * asks why, which is their confirmation; Approve of the last stage keeps its confirm dialog.
 */
export function rollbackButton(runId: number, stage: string, label = 'Roll back'): ButtonElement {
  return button(label, ACTION.rollback, encodeValue({ run: runId, stage }), { style: 'danger' });
}

export function decisionButtons(plan: Plan, r: { id: number; runId: number | null; toStage: string }): ButtonElement[] {
  const stage = upper(r.toStage);
  const target = plan.stages.find((s) => s.name === r.toStage);
  const last = plan.stages[plan.stages.length - 1].name === r.toStage;
  const value = encodeValue({ request: r.id, run: r.runId, stage: r.toStage });
  const approve = button(`Approve ${stage}`, ACTION.approve, value, {
    style: 'primary',
    ...(last && target
      ? {
          confirm: confirm(
            `Approve ${stage}?`,
            `This sends *all* traffic to ${plan.providerNames[plan.to]}: ${weightsLine(plan, target.weights)}.`,
            `Approve ${stage}`,
            'primary',
          ),
        }
      : {}),
  });
  return [approve, button('Reject', ACTION.reject, value, { style: 'danger' })];
}
