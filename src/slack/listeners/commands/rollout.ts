import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { answer, slackActor, viaRespond, type ListenerDeps } from '../../answer.ts';

/** `/rollout <text>`: the core's grammar, unchanged; the core checks who may do what. */
export const rolloutCommand =
  (deps: ListenerDeps) =>
  async ({ command, ack, respond }: SlackCommandMiddlewareArgs & AllMiddlewareArgs) => {
    // Ack before touching the database: Slack gives 3 s, a slow database may take longer.
    await ack();
    await answer(deps, viaRespond(respond), () => deps.service.handle(command.text ?? '', slackActor(command.user_id)), {
      user: command.user_id,
      action: `/rollout ${(command.text ?? '').trim().split(/\s+/)[0] || 'help'}`,
    });
  };
