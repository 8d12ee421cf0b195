import { ConfigError, loadConfig } from './config.ts';
import { PlanError } from './plan/plan.ts';
import { startConsoleBot, StartupError, type Bot } from './app.ts';
import { stderrLogger } from './log.ts';
import { installProcessGuards } from './process-guards.ts';
import { describeError } from './engine/errors.ts';

/** `npm start`: console mode with no Slack variables, Slack mode with them. */
async function main(): Promise<void> {
  // A reader of our output that goes away (a log shipper that died, a parent killed) must not
  // stop the guard: unhandled, each failed write is an error whose report fails again, forever.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
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
  // The process manager's stop: no new work, the work under way finished, leadership handed over
  // at once (src/engine/scheduler.ts), exit 0. A second signal ends the process there and then.
  const shutdown = (signal: string) => {
    const started = performance.now();
    log.info(`${signal}: stopping; finishing the work under way, then handing over leadership`);
    const deadline = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), STOP_WITHIN_MS).unref());
    void Promise.race([bot!.stop().then(() => 'stopped' as const), deadline]).then(
      (how) => {
        if (how === 'late') log.error(`did not stop within ${STOP_WITHIN_MS / 1000} s; exiting anyway`);
        else log.info(`stopped in ${Math.round(performance.now() - started)} ms`);
        process.exit(how === 'late' ? 1 : 0);
      },
      (err) => {
        log.error('stopping failed', { error: describeError(err) });
        process.exit(1);
      },
    );
  };
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    shutdown(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/**
 * Longer than the work under way may take (a statement times out after 10 s). A process manager
 * that kills sooner is a crash to Postgres: the lock is freed and a standby leads within a second.
 */
const STOP_WITHIN_MS = 15_000;

main().catch((err) => {
  const known = err instanceof ConfigError || err instanceof PlanError || err instanceof StartupError;
  process.stderr.write(`rollout-bot: ${known ? err.message : `unexpected error at start: ${(err as Error).stack ?? err}`}\n`);
  process.exit(1);
});
