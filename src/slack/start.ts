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
  let port: number | null;
  try {
    port = await front.listen();
  } catch (err) {
    await db.close();
    throw new StartupError(`cannot start the Slack ${front.mode === 'socket' ? 'Socket Mode connection' : `HTTP receiver on port ${slack.port}`}: ${describeError(err)}`);
  }
  front.startBackground();
  opts.log.info(`rollout-bot on ${db.description}; Slack ${front.mode === 'socket' ? 'Socket Mode' : `HTTP mode on port ${port} (POST /slack/events, GET /healthz)`}; channel ${slack.channel}; ${service.deps.access.describe()}`);
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      await front.stop();
      await db.close();
    })());
  return { plan, db, service, scheduler: front.scheduler, stop };
}
