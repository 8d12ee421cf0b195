import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { reasonProblem } from '../../../core/commands.ts';
import type { Reply } from '../../../core/outcomes.ts';
import type { Actor } from '../../../core/views.ts';
import { describeError } from '../../../engine/errors.ts';
import { clip } from '../../../render/blocks/limits.ts';
import { noticeModal, REASON } from '../../../render/blocks/modals.ts';
import { outcomeMessage, slowDatabaseMessage } from '../../../render/blocks/outcome.ts';
import { slackActor, type ListenerDeps } from '../../answer.ts';

export type SubmitArgs = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs;

/** Slack waits 3 s for a submission's ack; past this the form says "still working" instead. */
const SUBMIT_WITHIN_MS = 2_500;

/**
 * A reason form's submission. Unlike a click, it is acked only once the core has decided: a
 * refusal (the rollout moved on, the request was decided meanwhile, a bad reason) must come
 * back as an error under the field, with the form still open, and an ack closes it. A core that
 * has not decided within SUBMIT_WITHIN_MS (database slow or down) gets a "still working" form;
 * its result is announced in the rollout channel as usual.
 */
export const reasonSubmission =
  (
    deps: ListenerDeps,
    opts: { action: string; required: boolean },
    act: (actor: Actor, reason: string | null, privateMetadata: string) => Promise<Reply>,
  ) =>
  async ({ ack, body, view }: SubmitArgs) => {
    const log = deps.log.child({ component: 'slack', user: body.user.id, action: opts.action });
    const typed = view.state.values[REASON.block]?.[REASON.action]?.value ?? null;
    const problem = reasonProblem(typed, opts.required);
    if (problem) return void (await ack({ response_action: 'errors', errors: { [REASON.block]: problem } }));
    const reason = typed?.trim() || null;
    const result = act(slackActor(body.user.id), reason, view.private_metadata).catch((err): Reply => {
      log.error('slack: form submission failed', { error: describeError(err) });
      return {
        visibility: 'private',
        outcome: { kind: 'error', message: `Something went wrong: ${describeError(err)}. Nothing was changed.` },
      };
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), Math.min(deps.answerWithinMs, SUBMIT_WITHIN_MS));
    });
    const first = await Promise.race([result, late]);
    clearTimeout(timer);
    if (first === 'late')
      await ack({
        response_action: 'update',
        view: noticeModal('Still working', slowDatabaseMessage(Math.min(deps.answerWithinMs, SUBMIT_WITHIN_MS))) as never,
      });
    const reply = await result;
    deps.metrics?.observeOutcome(reply.outcome);
    log.info('form answered', { outcome: reply.outcome.kind, ...(reply.outcome.kind === 'refused' ? { code: reply.outcome.code } : {}) });
    if (first !== 'late') {
      const o = reply.outcome;
      if (o.kind === 'refused' || o.kind === 'unavailable' || o.kind === 'error') {
        await ack({
          response_action: 'errors',
          errors: { [REASON.block]: clip(o.kind === 'refused' ? `Refused: ${o.message}` : o.message, 1000) },
        });
      } else {
        await ack({ response_action: 'update', view: noticeModal('Done', outcomeMessage(deps.service.plan, o)) as never });
      }
    }
    if (reply.outcome.kind !== 'unavailable') deps.afterCommand();
  };
