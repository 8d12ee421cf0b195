import type { ServerResponse } from 'node:http';
import { App, HTTPReceiver, SocketModeReceiver, type Receiver } from '@slack/bolt';
import type { SlackConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import type { ListenerDeps } from './answer.ts';
import { boltLogger } from './bolt-logger.ts';
import { register as registerActions } from './listeners/actions/index.ts';
import { register as registerCommands } from './listeners/commands/index.ts';
import { DEFAULT_SLACK_API_URL } from './web.ts';
import type { RolloutMetrics } from '../adapters/metrics.ts';
import { serveMetrics } from '../adapters/metrics-server.ts';

export interface SlackAppOptions {
  slack: SlackConfig;
  deps: ListenerDeps;
  log: Logger;
  /** GET /healthz: true when the database answers. */
  databaseUp: () => Promise<boolean>;
  /** GET /metrics (Prometheus text format). */
  metrics: RolloutMetrics;
}

/**
 * The Bolt app in Socket Mode (SLACK_APP_TOKEN) or HTTP mode (signing secret, POST /slack/events
 * on PORT). It never calls auth.test: `authorize` hands Bolt the bot token, so the bot starts
 * (and answers /healthz) even while Slack is unreachable.
 */
export function buildSlackApp(opts: SlackAppOptions): { app: App; mode: 'socket' | 'http'; receiver: Receiver } {
  const { slack, log } = opts;
  const logger = boltLogger(log);
  const clientOptions = { slackApiUrl: slack.apiUrl ?? DEFAULT_SLACK_API_URL, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true };
  const customRoutes = [
    { path: '/healthz', method: ['GET'], handler: (_req: unknown, res: ServerResponse) => void healthz(opts, res) },
    { path: '/metrics', method: ['GET'], handler: (_req: unknown, res: ServerResponse) => void serveMetrics(opts.metrics, res) },
  ];
  let receiver: Receiver;
  let mode: 'socket' | 'http';
  if (slack.appToken) {
    mode = 'socket';
    receiver = new SocketModeReceiver({ appToken: slack.appToken, logger, customRoutes, installerOptions: { port: slack.port, clientOptions } });
  } else {
    mode = 'http';
    // Signature verification stays on (Bolt's default): every request is checked against the signing secret.
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
  return { app, mode, receiver };
}

async function healthz(opts: SlackAppOptions, res: ServerResponse): Promise<void> {
  const up = await opts.databaseUp().catch(() => false);
  res.writeHead(up ? 200 : 503, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ok: up, bot: 'up', database: up ? 'up' : 'unavailable' }));
}
