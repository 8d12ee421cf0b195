import type { App } from '@slack/bolt';
import type { ListenerDeps } from '../../answer.ts';
import { rolloutCommand } from './rollout.ts';

const ROLLOUT_COMMAND = '/rollout';

export function register(app: App, deps: ListenerDeps): void {
  app.command(ROLLOUT_COMMAND, rolloutCommand(deps));
}
