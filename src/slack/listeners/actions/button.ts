import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { Reply } from '../../../core/outcomes.ts';
import type { Actor } from '../../../core/views.ts';
import { answer, replyChannel, slackActor, type ListenerDeps } from '../../answer.ts';

export type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/**
 * The shape every button listener shares: ack first, then decide who clicked and what the
 * button carried, and answer privately. Non-admins are sent straight to the core, which refuses
 * and audits them before any value is even looked at.
 */
export const buttonListener =
  (deps: ListenerDeps, act: (actor: Actor, rawValue: unknown) => Promise<Reply>) =>
  async ({ ack, body, action, respond }: ButtonArgs) => {
    // A click on the Home tab has no response_url: Bolt leaves respond undefined.
    await ack();
    await answer(deps, replyChannel(deps, body.user.id, respond), () => act(slackActor(body.user.id), action.value), {
      user: body.user.id,
      action: action.action_id,
    });
  };

export const isAdmin = (deps: ListenerDeps, actor: Actor) => deps.service.deps.access.isAdmin(actor);
