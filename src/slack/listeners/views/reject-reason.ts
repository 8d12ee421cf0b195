import type { ListenerDeps } from '../../answer.ts';
import { decide } from '../actions/decide.ts';
import { reasonSubmission } from './submission.ts';

/** The Reject form: rejects the request it was opened for, with the reason if one was given. */
export const rejectReasonSubmitted = (deps: ListenerDeps) =>
  reasonSubmission(deps, { action: 'reject form', required: false }, (actor, reason, metadata) =>
    decide(deps, actor, metadata, 'reject', reason),
  );
