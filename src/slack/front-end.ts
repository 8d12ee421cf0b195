import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { App } from '@slack/bolt';
import type { SlackConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Leadership } from '../engine/leader.ts';
import type { EventSink } from '../engine/outbox.ts';
import { Scheduler } from '../engine/scheduler.ts';
import type { RolloutService } from '../engine/service.ts';
import { rolloutMetrics, type RolloutMetrics } from '../adapters/metrics.ts';
import { serveMetrics } from '../adapters/metrics-server.ts';
import { buildSlackApp } from './app.ts';
import { ChecklistRefresher } from './refresher.ts';
import { slackSink } from './sink.ts';
import { HomePublisher, refreshingHome, type HomeDeps } from './home.ts';
import { slackWebClient, type WebClient } from './web.ts';

export interface SlackFrontEndOptions {
  service: RolloutService;
  slack: SlackConfig;
  leader: Leadership;
  log: Logger;
  answerWithinMs?: number;
  /** Prometheus: GET /metrics next to /healthz. Without it, one is made for this front end. */
  metrics?: RolloutMetrics;
  /** The Home tab's republishing pace (defaults in HOME_DEFAULTS). */
  home?: Pick<HomeDeps, 'minIntervalMs' | 'watchMs' | 'maxPerPass'>;
}

export interface SlackFrontEnd {
  app: App;
  mode: 'socket' | 'http';
  web: WebClient;
  sink: EventSink;
  scheduler: Scheduler;
  refresher: ChecklistRefresher;
  home: HomePublisher;
  metrics: RolloutMetrics;
  /** Socket Mode: 'connecting' | 'connected' | 'reconnecting'; HTTP mode: 'http'. */
  slackState(): string;
  /**
   * Starts receiving Slack requests and resolves to the port of /healthz (and, in HTTP mode,
   * /slack/events). Socket Mode connects in the background, for as long as it takes.
   */
  listen(): Promise<number>;
  /** Guard, reports, outbox and checklist refresher (leader only). */
  startBackground(): void;
  stop(): Promise<void>;
}

/** Slack wired to one engine: listeners in, sink and live checklists out. */
export function createSlackFrontEnd(opts: SlackFrontEndOptions): SlackFrontEnd {
  const { service, slack, log } = opts;
  const { plan, db, now } = service.deps;
  const web = slackWebClient(slack.botToken, slack.apiUrl, log);
  // The scheduler is made just below; the metrics ask it who leads only when scraped.
  const metrics = opts.metrics ?? rolloutMetrics({ service, isLeader: () => scheduler.isLeader });
  const home = new HomePublisher({ service, web, log, onSlackError: (kind) => metrics.slackError(kind), ...opts.home });
  const sink = refreshingHome(slackSink({ plan, pool: db.pool, web, channel: slack.channel, log, now, onSlackError: (kind) => metrics.slackError(kind) }), home);
  const scheduler: Scheduler = new Scheduler({ service, sink, leader: opts.leader, log, metrics });
  const refresher = new ChecklistRefresher({ service, web, log, isLeader: () => scheduler.confirmLeader() });
  const { app, mode, link, healthz } = buildSlackApp({
    slack, log, metrics,
    deps: {
      service, log, metrics, home, afterCommand: () => scheduler.kick(), answerWithinMs: opts.answerWithinMs ?? 4_000,
      async postInThread(root, reply) {
        const posted = await web.chat.postMessage({ channel: slack.channel, text: root.text, blocks: root.blocks as never });
        await web.chat.postMessage({ channel: slack.channel, thread_ts: posted.ts!, text: reply.text, blocks: reply.blocks as never });
      },
    },
    databaseUp: async () => {
      const probe = db.pool.query('SELECT 1').then(() => true, () => false);
      const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2_000).unref());
      return Promise.race([probe, timeout]);
    },
  });
  let background = false;
  let healthServer: Server | null = null;
  return {
    app, mode, web, sink, scheduler, refresher, home, metrics,
    slackState: () => link?.state ?? 'http',
    async listen() {
      if (link) {
        const server = createServer((req, res) => {
          const path = req.method === 'GET' ? new URL(req.url ?? '/', 'http://localhost').pathname : null;
          if (path === '/healthz') return healthz(res);
          if (path === '/metrics') return void serveMetrics(metrics, res);
          res.writeHead(404).end();
        });
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(slack.port, () => resolve());
        });
        healthServer = server;
        link.start();
        return (server.address() as AddressInfo).port;
      }
      const server = (await app.start(slack.port)) as Server;
      return (server.address() as AddressInfo).port;
    },
    startBackground() {
      background = true;
      scheduler.start();
      refresher.start();
    },
    async stop() {
      link?.stop();
      await app.stop().catch(() => {});
      if (healthServer) {
        healthServer.closeAllConnections();
        await new Promise<void>((resolve) => healthServer!.close(() => resolve()));
      }
      await refresher.stop();
      await home.stop();
      if (background) await scheduler.stop();
    },
  };
}
