import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { App } from '@slack/bolt';
import type { SlackConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Leadership } from '../engine/leader.ts';
import type { EventSink } from '../engine/ports.ts';
import { Scheduler } from '../engine/scheduler.ts';
import type { RolloutService } from '../engine/service.ts';
import { rolloutMetrics, type RolloutMetrics } from '../adapters/metrics.ts';
import { serveMetrics } from '../adapters/metrics-server.ts';
import { buildSlackApp } from './app.ts';
import { ChecklistRefresher } from './refresher.ts';
import { slackSink } from './sink.ts';
import { HomePublisher, refreshingHome, type HomeDeps } from './home.ts';
import { ChartPoster, recordBacktestChart, withCharts } from './chart-poster.ts';
import { describeError } from '../engine/errors.ts';
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
  /** Charts under reports, alerts and backtests (default true; tests of the text alone turn them off). */
  charts?: boolean;
}

export interface SlackFrontEnd {
  app: App;
  mode: 'socket' | 'http';
  web: WebClient;
  sink: EventSink;
  scheduler: Scheduler;
  refresher: ChecklistRefresher;
  home: HomePublisher;
  /** Draws and shares charts after their text (null when charts are off). */
  charts: ChartPoster | null;
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
  const onSlackError = (kind: string) => metrics.slackError(kind);
  const charts =
    opts.charts === false
      ? null
      : new ChartPoster({
          service,
          web,
          channel: slack.channel,
          log,
          mayLead: () => scheduler.isLeader,
          isLeader: () => scheduler.confirmLeader(),
          onSlackError,
        });
  const textSink = slackSink({ plan, pool: db.pool, web, channel: slack.channel, log, now, onSlackError });
  const home = new HomePublisher({ service, web, log, onSlackError, ...opts.home });
  const sink = refreshingHome(
    charts ? withCharts(textSink, { service, channel: slack.channel, onRecorded: () => charts.kick() }) : textSink,
    home,
  );
  const scheduler: Scheduler = new Scheduler({ service, sink, leader: opts.leader, log, observer: metrics });
  const refresher = new ChecklistRefresher({ service, web, log, isLeader: () => scheduler.confirmLeader() });
  const { app, mode, link, healthz } = buildSlackApp({
    slack,
    log,
    metrics,
    deps: {
      service,
      log,
      metrics,
      home,
      afterCommand: () => scheduler.kick(),
      answerWithinMs: opts.answerWithinMs ?? 4_000,
      async postInThread(root, reply, outcome) {
        const posted = await web.chat.postMessage({ channel: slack.channel, text: root.text, blocks: root.blocks as never });
        await web.chat.postMessage({ channel: slack.channel, thread_ts: posted.ts!, text: reply.text, blocks: reply.blocks as never });
        if (charts && outcome.kind === 'backtest') {
          // The replay's chart follows in the same thread; the answer never waits for it.
          await recordBacktestChart(db.pool, slack.channel, posted.ts!, outcome.result, now()).then(
            () => charts.kick(),
            (err) => log.warn('charts: could not record the backtest chart', { error: describeError(err) }),
          );
        }
      },
    },
    databaseUp: async () => {
      const probe = db.pool.query('SELECT 1').then(
        () => true,
        () => false,
      );
      const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2_000).unref());
      return Promise.race([probe, timeout]);
    },
  });
  let background = false;
  let healthServer: Server | null = null;
  return {
    app,
    mode,
    web,
    sink,
    scheduler,
    refresher,
    home,
    charts,
    metrics,
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
      charts?.start();
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
      await charts?.stop();
      if (background) await scheduler.stop();
    },
  };
}
