import * as store from '../../../db/store.ts';
import { parseValue, rollbackValue } from '../../../render/blocks/buttons.ts';
import { refuseButton, type ListenerDeps } from '../../answer.ts';
import { buttonListener, isAdmin } from './button.ts';

/**
 * "Roll back now" on an alert or a checklist. It acts only on the run and stage it was shown
 * for: a button left over from an earlier stage or run is refused, so nobody reverts a rollout
 * they have not looked at. `/rollout rollback` always works on the current one.
 */
export const rollbackButton = (deps: ListenerDeps) =>
  buttonListener(deps, async (actor, raw) => {
    const { service } = deps;
    const value = parseValue(rollbackValue, raw);
    const reason = value ? `"Roll back" button on ${value.stage.toUpperCase()} in Slack` : null;
    if (!isAdmin(deps, actor)) return service.run({ kind: 'rollback', reason }, actor);
    if (!value) return refuseButton(deps, actor, 'rollback', 'unknown_request', 'This button does not match anything this bot posted; nothing changed. Use `/rollout rollback` to roll back.', { button: String(raw).slice(0, 200) });
    const run = await store.latestRun(service.deps.db.pool);
    if (!run || run.id !== value.run || run.state !== value.stage) {
      const now = run ? `${run.state.toUpperCase().replace('_', ' ')} (rollout #${run.id})` : 'idle';
      return refuseButton(deps, actor, 'rollback', 'stale', `This button was for ${value.stage.toUpperCase()} of rollout #${value.run}; the rollout is now ${now}. Nothing changed; use \`/rollout rollback\` if it still needs rolling back.`, { button: value });
    }
    return service.run({ kind: 'rollback', reason }, actor);
  });
