import type { Bot, StartOptions } from '../app.ts';
import { openEngine, StartupError } from '../app.ts';
import type { Config } from '../config.ts';
import { describeError } from '../engine/errors.ts';
import { advisoryLeader, soleLeader } from '../engine/leader.ts';
import { createSlackFrontEnd } from './front-end.ts';

/** `npm start` with SLACK_BOT_TOKEN: the engine with the Slack front end attached. */
export async function startSlackBot(config: Config, opts: StartOptions): Promise<Bot> {
  const slack = config.slack;
  if (!slack) throw new StartupError('Slack mode needs SLACK_BOT_TOKEN');
  const { plan, db, service } = await openEngine(config, opts);
  const front = createSlackFrontEnd({ service, slack, log: opts.log, leader: db.kind === 'postgres' ? advisoryLeader(db.url!) : soleLeader() });
  // The guard starts first and never waits for Slack: an unreachable Slack must not delay a rollback.
  front.startBackground();
  const where = `${db.description}; channel ${slack.channel}; ${service.deps.access.describe()}`;
  if (!config.admins.length) opts.log.warn('ROLLOUT_ADMINS is empty: nobody can request, approve or roll back from Slack (status, history and help still work)');
  let retry: NodeJS.Timeout | null = null;
  let stopped = false;
  let metricsPort: number | null = slack.port;
  if (front.mode === 'socket') {
    // A failed first connection is retried here (Socket Mode reconnects by itself only once connected);
    // meanwhile the guard runs and the outbox keeps every message for later.
    opts.log.info(`rollout-bot on ${where}; Slack Socket Mode: connecting`);
    const connect = (attempt: number): void => {
      front.listen().then(
        () => opts.log.info('slack: Socket Mode connected'),
        (err) => {
          if (stopped) return;
          const waitMs = Math.min(60_000, 5_000 * attempt);
          opts.log.error(`slack: Socket Mode could not connect; commands and buttons are unavailable; retrying in ${waitMs / 1000} s`, { error: describeError(err) });
          retry = setTimeout(() => connect(attempt + 1), waitMs);
        },
      );
    };
    connect(1);
  } else {
    let port: number | null;
    try {
      port = await front.listen();
    } catch (err) {
      await front.stop();
      await db.close();
      throw new StartupError(`cannot start the Slack HTTP receiver on port ${slack.port}: ${describeError(err)}`);
    }
    metricsPort = port;
    opts.log.info(`rollout-bot on ${where}; Slack HTTP mode on port ${port} (POST /slack/events, GET /healthz, GET /metrics)`);
  }
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      await front.stop();
      await db.close();
    })());
  return { plan, db, service, scheduler: front.scheduler, metrics: front.metrics, metricsPort, stop };
}
