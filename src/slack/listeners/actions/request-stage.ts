import { parseValue, requestStageValue } from '../../../render/blocks/buttons.ts';
import { refuseButton, type ListenerDeps } from '../../answer.ts';
import { buttonListener, isAdmin } from './button.ts';

/** "Request D2" on a ready checklist: the same as `/rollout d2`, if the rollout is still where the checklist was. */
export const requestStageButton = (deps: ListenerDeps) =>
  buttonListener(deps, async (actor, raw) => {
    const { service } = deps;
    const value = parseValue(requestStageValue, raw);
    if (!isAdmin(deps, actor)) return service.run({ kind: 'promote', stage: value?.to ?? 'next stage', force: false }, actor);
    if (!value)
      return refuseButton(
        deps,
        actor,
        'request',
        'unknown_request',
        'This button does not match anything this bot posted; nothing changed.',
        { button: String(raw).slice(0, 200) },
      );
    // A button the rollout moved on from is refused by the core, under its lock.
    return service.run({ kind: 'promote', stage: value.to, force: false, expect: { run: value.run, stage: value.from } }, actor);
  });
