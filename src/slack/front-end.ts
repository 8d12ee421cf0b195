import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { App } from '@slack/bolt';
import type { SlackConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Leadership } from '../engine/leader.ts';
import type { EventSink, PeerLink } from '../engine/ports.ts';
import type { ReplicaIdentity } from '../engine/outage-watch.ts';
import { Scheduler } from '../engine/scheduler.ts';
import type { RolloutService } from '../engine/service.ts';
import { rolloutMetrics, type RolloutMetrics } from '../adapters/metrics.ts';
import { startMetricsServer } from '../adapters/metrics-server.ts';
import { buildSlackApp } from './app.ts';
import { ChecklistRefresher } from './refresher.ts';
import { slackSink } from './sink.ts';
import { HomePublisher, refreshingHome, type HomeDeps } from './home.ts';
import { ChartPoster, recordBacktestChart, withCharts } from './chart-poster.ts';
import { describeError } from '../engine/errors.ts';
import { slackStore } from './store.ts';
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
  home?: Pick<HomeDeps, 'minIntervalMs' | 'watchMs' | 'maxPerPass' | 'refreshMs' | 'refreshPerMinute'>;
  /** Charts under reports, alerts and backtests (default true; tests of the text alone turn them off). */
  charts?: boolean;
  /** Who this replica is to the others, and how it asks them when the database goes (engine/outage-watch.ts). */
  replica?: ReplicaIdentity;
  peers?: PeerLink;
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
  const { now } = service.deps;
  const store = slackStore(service.deps.db);
  const web = slackWebClient(slack.botToken, slack.apiUrl, log);
  // The scheduler is made just below; the metrics ask it who leads only when scraped.
  const metrics =
    opts.metrics ??
    rolloutMetrics({
      service,
      isLeader: () => scheduler.isLeader,
      databaseReachable: () => scheduler.databaseReachable,
    });
  const onSlackError = (kind: string) => metrics.slackError(kind);
  const charts =
    opts.charts === false
      ? null
      : new ChartPoster({
          service,
          store,
          web,
          channel: slack.channel,
          log,
          mayLead: () => scheduler.isLeader,
          isLeader: () => scheduler.confirmLeader(),
          onSlackError,
        });
  const textSink = slackSink({
    // The plan in force when each event is shown (the run's, if this replica's own differs).
    get plan() {
      return service.plan;
    },
    store,
    runBaseline: (runId) => service.reads.runBaseline(runId),
    web,
    channel: slack.channel,
    log,
    now,
    onSlackError,
  });
  const home = new HomePublisher({ service, store, web, log, onSlackError, isLeader: () => scheduler.confirmLeader(), ...opts.home });
  const sink = refreshingHome(
    charts ? withCharts(textSink, { service, store, channel: slack.channel, onRecorded: () => charts.kick() }) : textSink,
    home,
  );
  const scheduler: Scheduler = new Scheduler({
    service,
    sink,
    leader: opts.leader,
    log,
    observer: metrics,
    replica: opts.replica,
    peers: opts.peers,
  });
  const refresher = new ChecklistRefresher({ service, store, web, log, isLeader: () => scheduler.confirmLeader() });
  // While this replica knows it cannot reach the database, /healthz says so at once: the other
  // replicas ask it then, and a probe of a silent database would take its 2 s timeout.
  const databaseUp = () => (scheduler.databaseReachable ? service.reads.databaseUp() : Promise.resolve(false));
  const { app, mode, link } = buildSlackApp({
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
          await recordBacktestChart(store, slack.channel, posted.ts!, outcome.result, now()).then(
            () => charts.kick(),
            (err) => log.warn('charts: could not record the backtest chart', { error: describeError(err) }),
          );
        }
      },
    },
    databaseUp,
    replica: (up) => scheduler.replicaHealth(up),
  });
  let background = false;
  let opsServer: Awaited<ReturnType<typeof startMetricsServer>> | null = null;
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
        const socket = link;
        opsServer = await startMetricsServer(
          metrics,
          slack.port,
          databaseUp,
          () => ({ slack: socket.state }),
          (up) => scheduler.replicaHealth(up),
        );
        socket.start();
        return opsServer.port;
      }
      const server = (await app.start(slack.port)) as Server;
      return (server.address() as AddressInfo).port;
    },
    startBackground() {
      background = true;
      scheduler.start();
      refresher.start();
      home.start();
      charts?.start();
    },
    async stop() {
      link?.stop();
      await app.stop().catch(() => {});
      await opsServer?.close();
      await refresher.stop();
      await home.stop();
      await charts?.stop();
      if (background) await scheduler.stop();
    },
  };
}
