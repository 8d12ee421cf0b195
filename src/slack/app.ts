import type { ServerResponse } from 'node:http';
import { App, HTTPReceiver, SocketModeReceiver, type Receiver } from '@slack/bolt';
import type { SlackConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import type { ListenerDeps } from './answer.ts';
import { boltLogger } from './bolt-logger.ts';
import { register as registerActions } from './listeners/actions/index.ts';
import { register as registerCommands } from './listeners/commands/index.ts';
import { register as registerEvents } from './listeners/events/index.ts';
import { register as registerViews } from './listeners/views/index.ts';
import { SOCKET_BACKOFF } from './backoff.ts';
import { SocketLink } from './socket-link.ts';
import { DEFAULT_SLACK_API_URL } from './web.ts';
import type { RolloutMetrics } from '../adapters/metrics.ts';
import { serveHealthz, serveMetrics, type ReplicaHealthSource } from '../adapters/metrics-server.ts';

export interface SlackAppOptions {
  slack: SlackConfig;
  deps: ListenerDeps;
  log: Logger;
  /** GET /healthz: true when the database answers. */
  databaseUp: () => Promise<boolean>;
  /** GET /healthz: this replica as the others read it when they lose the database. */
  replica?: ReplicaHealthSource;
  /** GET /metrics (Prometheus text format). */
  metrics: RolloutMetrics;
}

/**
 * The Bolt app in Socket Mode (SLACK_APP_TOKEN) or HTTP mode (signing secret, POST /slack/events
 * on PORT). It never calls auth.test: `authorize` hands Bolt the bot token, so the bot starts
 * (and answers /healthz) even while Slack is unreachable.
 */
export interface SlackApp {
  app: App;
  mode: 'socket' | 'http';
  receiver: Receiver;
  /** Socket Mode only: the connection that keeps itself up. */
  link: SocketLink | null;
}

export function buildSlackApp(opts: SlackAppOptions): SlackApp {
  const { slack, log } = opts;
  const logger = boltLogger(log);
  const apiUrl = slack.apiUrl ?? DEFAULT_SLACK_API_URL;
  const clientOptions = { slackApiUrl: apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true };
  let link: SocketLink | null = null;
  let receiver: Receiver;
  let mode: 'socket' | 'http';
  if (slack.appToken) {
    mode = 'socket';
    const tuning = slack.socket ?? {};
    const socketReceiver = new SocketModeReceiver({
      // No customRoutes: Bolt would start their server unawaited (a busy port becomes an uncaught
      // exception) and only together with the socket; front-end.ts serves /healthz and /metrics itself.
      appToken: slack.appToken,
      logger,
      // SocketLink owns reconnection: the library's gives up on a 5xx from apps.connections.open.
      autoReconnectEnabled: false,
      clientPingTimeout: tuning.clientPingTimeoutMs,
      serverPingTimeout: tuning.serverPingTimeoutMs,
      // Its own client for apps.connections.open: one try per attempt (SocketLink backs off), never hanging.
      installerOptions: { port: slack.port, clientOptions: { slackApiUrl: apiUrl, retryConfig: { retries: 0 }, timeout: 10_000 } },
    });
    link = new SocketLink(socketReceiver.client, {
      log,
      backoff: { minMs: tuning.reconnectMinMs ?? SOCKET_BACKOFF.minMs, maxMs: tuning.reconnectMaxMs ?? SOCKET_BACKOFF.maxMs },
    });
    receiver = socketReceiver;
  } else {
    mode = 'http';
    // Signature verification stays on (Bolt's default): every request is checked against the signing secret.
    const customRoutes = [
      {
        path: '/healthz',
        method: ['GET'],
        handler: (_req: unknown, res: ServerResponse) => void serveHealthz(res, opts.databaseUp, { slack: 'http' }, opts.replica),
      },
      { path: '/metrics', method: ['GET'], handler: (_req: unknown, res: ServerResponse) => void serveMetrics(opts.metrics, res) },
    ];
    receiver = new HTTPReceiver({ signingSecret: slack.signingSecret!, port: slack.port, logger, customRoutes });
  }
  const app = new App({
    receiver,
    logger,
    clientOptions,
    authorize: async () => ({ botToken: slack.botToken }),
  });
  app.error(async (err) => {
    log.error('slack: unhandled error in a listener', { error: err.message });
  });
  registerCommands(app, opts.deps);
  registerActions(app, opts.deps);
  registerViews(app, opts.deps);
  registerEvents(app, opts.deps);
  return { app, mode, receiver, link };
}
