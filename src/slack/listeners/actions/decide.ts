import type { Reply } from '../../../core/outcomes.ts';
import type { Actor, RequestView } from '../../../core/views.ts';
import { decisionValue, parseValue } from '../../../render/blocks/buttons.ts';
import { refuseButton, type ListenerDeps } from '../../answer.ts';
import { isAdmin } from './button.ts';

/**
 * Approve and Reject: the value names the request, its run and its stage. The request must
 * exist with exactly that run and stage (a request's target never changes, so reading it
 * before the core's transaction is safe); the core then refuses stale, decided, self- and
 * double approvals under its lock.
 */
export async function decide(
  deps: ListenerDeps,
  actor: Actor,
  raw: unknown,
  kind: 'approve' | 'reject',
  reason: string | null = null,
): Promise<Reply> {
  const { service } = deps;
  const value = parseValue(decisionValue, raw);
  if (!isAdmin(deps, actor))
    return service.run(
      kind === 'approve' ? { kind, requestId: value?.request ?? null } : { kind, requestId: value?.request ?? null, reason },
      actor,
    );
  const matched = await matchRequest(deps, actor, kind, raw);
  if ('outcome' in matched) return matched;
  return kind === 'approve'
    ? service.run({ kind: 'approve', requestId: matched.request.id }, actor)
    : service.run({ kind: 'reject', requestId: matched.request.id, reason }, actor);
}

/** The request a button (or the form it opened) names, or the audited refusal of a value this bot never made. */
export async function matchRequest(
  deps: ListenerDeps,
  actor: Actor,
  kind: string,
  raw: unknown,
): Promise<{ request: RequestView } | Reply> {
  const value = parseValue(decisionValue, raw);
  const tampered = (why: string) =>
    refuseButton(deps, actor, kind, 'unknown_request', `This button does not match any request this bot made (${why}); nothing changed.`, {
      button: String(raw).slice(0, 200),
    });
  if (!value) return tampered('unreadable value');
  const request = await deps.service.reads.request(value.request);
  if (!request) return tampered(`no request #${value.request}`);
  if (request.toStage !== value.stage || request.runId !== value.run)
    return tampered(`request #${request.id} is for ${request.toStage}, not ${value.stage}`);
  return { request };
}
