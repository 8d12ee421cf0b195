import type { Bot, StartOptions } from '../app.ts';
import { StartupError } from '../app.ts';
import type { Config } from '../config.ts';

export async function startSlackBot(_config: Config, _opts: StartOptions): Promise<Bot> {
  throw new StartupError('Slack mode is not built yet; unset SLACK_BOT_TOKEN to use the console');
}
