import { parseValue, rollbackValue } from '../../../render/blocks/buttons.ts';
import { refuseButton, type ListenerDeps } from '../../answer.ts';
import { reasonSubmission } from './submission.ts';

/**
 * The Roll back form: rolls back with the reason, only if the rollout is still at the run and
 * stage the button was made for (checked by the core under its lock).
 */
export const rollbackReasonSubmitted = (deps: ListenerDeps) =>
  reasonSubmission(deps, { action: 'rollback form', required: true }, async (actor, reason, metadata) => {
    const value = parseValue(rollbackValue, metadata);
    if (!value) {
      return refuseButton(
        deps,
        actor,
        'rollback',
        'unknown_request',
        'This form does not match anything this bot made; nothing changed. Use `/rollout rollback <reason>`.',
        { form: metadata.slice(0, 200) },
      );
    }
    return deps.service.run({ kind: 'rollback', reason, expect: value }, actor);
  });
