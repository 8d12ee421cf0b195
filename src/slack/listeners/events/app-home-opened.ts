import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import { describeError } from '../../../engine/errors.ts';
import type { ListenerDeps } from '../../answer.ts';

/**
 * Someone opened the bot's Home tab (Bolt has already acked the event): show them the rollout
 * now, and remember them so the next hour's changes reach them too. The Messages tab is not ours.
 */
export const appHomeOpened =
  (deps: ListenerDeps) =>
  async ({ event }: SlackEventMiddlewareArgs<'app_home_opened'> & AllMiddlewareArgs) => {
    if (event.tab !== 'home' || !deps.home) return;
    try {
      await deps.home.opened(event.user);
    } catch (err) {
      deps.log.warn('slack: could not show the Home tab', { user: event.user, error: describeError(err) });
    }
  };
