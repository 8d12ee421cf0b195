import type { Bot, StartOptions } from '../app.ts';
import { advertise, openReplicaEngine, replicaIdentity, StartupError } from '../app.ts';
import { httpPeers } from '../adapters/peers.ts';
import type { Config } from '../config.ts';
import { describeError } from '../engine/errors.ts';
import { advisoryLeader, leaderTimings, soleLeader } from '../engine/leader.ts';

/** `npm start` with SLACK_BOT_TOKEN: the engine with the Slack front end attached. */
export async function startSlackBot(config: Config, opts: StartOptions): Promise<Bot> {
  const slack = config.slack;
  if (!slack) throw new StartupError('Slack mode needs SLACK_BOT_TOKEN');
  // Bolt is a third of a start's CPU: it loads while the database connects and migrates.
  const [{ createSlackFrontEnd }, { plan, db, service }] = await Promise.all([
    import('./front-end.ts'),
    openReplicaEngine(config, opts, slack.port),
  ]);
  const replica = replicaIdentity(service.deps.now());
  const front = createSlackFrontEnd({
    service,
    slack,
    log: opts.log,
    leader: db.kind === 'postgres' ? advisoryLeader(db.url!, leaderTimings(config.leaderTimeoutMs)) : soleLeader(),
    replica,
    peers: httpPeers(),
  });
  // The guard starts first and never waits for Slack: an unreachable Slack must not delay a rollback.
  front.startBackground();
  const where = `${db.description}; channel ${slack.channel}; ${service.deps.access.describe()}`;
  if (!config.admins.length)
    opts.log.warn('ROLLOUT_ADMINS is empty: nobody can request, approve or roll back from Slack (status, history and help still work)');
  let port: number;
  try {
    port = await front.listen();
  } catch (err) {
    await front.stop();
    await db.close();
    throw new StartupError(
      `cannot listen on port ${slack.port} (GET /healthz${front.mode === 'http' ? ', POST /slack/events' : ''}): ${describeError(err)}`,
    );
  }
  advertise(replica, config, port);
  if (front.mode === 'socket') {
    // Socket Mode connects in the background and keeps reconnecting for as long as Slack is away;
    // meanwhile the guard runs and the outbox keeps every message for later.
    opts.log.info(`rollout-bot on ${where}; Slack Socket Mode: connecting (GET /healthz and /metrics on port ${port})`);
  } else {
    opts.log.info(`rollout-bot on ${where}; Slack HTTP mode on port ${port} (POST /slack/events, GET /healthz, GET /metrics)`);
  }
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      await front.stop();
      await db.close();
    })());
  return { plan, db, service, scheduler: front.scheduler, metrics: front.metrics, metricsPort: port, stop };
}
