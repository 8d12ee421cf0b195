import { parseValue, rollbackValue, type RollbackValue } from '../../../render/blocks/buttons.ts';
import { rollbackModal } from '../../../render/blocks/modals.ts';
import type { Reply } from '../../../core/outcomes.ts';
import type { Actor } from '../../../core/views.ts';
import { refuseButton, slackActor, type ListenerDeps } from '../../answer.ts';
import { buttonListener, isAdmin, type ButtonArgs } from './button.ts';
import { openForm } from './form.ts';

/**
 * "Roll back" on an alert, a checklist or the Home tab opens a form asking why; its submission
 * (views/rollback-reason.ts) rolls back. It acts only on the run and stage it was shown for: a
 * button left over from an earlier stage or run is refused, so nobody reverts a rollout they have
 * not looked at. `/rollout rollback` always works on the current one.
 */
export const rollbackButton = (deps: ListenerDeps) => {
  // Non-admins and values this bot never made get no form: refused (and audited) at once.
  const refuseAtOnce = buttonListener(deps, async (actor, raw) => {
    if (!isAdmin(deps, actor)) return deps.service.run({ kind: 'rollback', reason: null }, actor);
    return refuseButton(
      deps,
      actor,
      'rollback',
      'unknown_request',
      'This button does not match anything this bot posted; nothing changed. Use `/rollout rollback` to roll back.',
      { button: String(raw).slice(0, 200) },
    );
  });
  return async (args: ButtonArgs) => {
    const actor = slackActor(args.body.user.id);
    const value = parseValue(rollbackValue, args.action.value);
    if (!value || !isAdmin(deps, actor)) return refuseAtOnce(args);
    await args.ack();
    await openForm(deps, args, rollbackModal(deps.service.plan, value), () => staleRollback(deps, actor, value));
  };
};

/** The refusal of a button whose run and stage are no longer the rollout's, or null. */
async function staleRollback(deps: ListenerDeps, actor: Actor, value: RollbackValue): Promise<Reply | null> {
  const run = await deps.service.reads.latestRun();
  if (run && run.id === value.run && run.state === value.stage) return null;
  const now = run ? `${run.state.toUpperCase().replace('_', ' ')} (rollout #${run.id})` : 'idle';
  return refuseButton(
    deps,
    actor,
    'rollback',
    'stale',
    `This button was for ${value.stage.toUpperCase()} of rollout #${value.run}; the rollout is now ${now}. Nothing changed; use \`/rollout rollback\` if it still needs rolling back.`,
    { button: value },
  );
}
