import { ConfigError, loadConfig } from './config.ts';
import { PlanError } from './plan/plan.ts';
import { startConsoleBot, StartupError, type Bot } from './app.ts';
import { stderrLogger } from './log.ts';
import { installProcessGuards } from './process-guards.ts';

/** `npm start`: console mode with no Slack variables, Slack mode with them. */
async function main(): Promise<void> {
  let bot: Bot | undefined;
  const config = loadConfig(process.env);
  const log = stderrLogger(config.logLevel, config.logFormat);
  // Before anything starts: a stray rejection from Slack must not take the guard with it.
  installProcessGuards({ log, stop: async () => bot?.stop() });
  if (config.slack) {
    const { startSlackBot } = await import('./slack/start.ts');
    bot = await startSlackBot(config, { log });
  } else {
    bot = await startConsoleBot(config, { log });
  }
  const shutdown = (signal: string) => {
    log.info(`${signal}: stopping`);
    void bot!.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err) => {
  const known = err instanceof ConfigError || err instanceof PlanError || err instanceof StartupError;
  process.stderr.write(`rollout-bot: ${known ? err.message : `unexpected error at start: ${(err as Error).stack ?? err}`}\n`);
  process.exit(1);
});
