import { addMilliseconds } from 'date-fns/addMilliseconds';
import { differenceInMilliseconds } from 'date-fns/differenceInMilliseconds';
import type { RolloutEvent } from '../core/events.ts';
import type { BacktestResult } from '../core/backtest.ts';
import { EPISODE_WINDOW_MS } from '../core/alert-episodes.ts';
import { CHARTED_KINDS, chartRequestFor, episodeChartRequest, type ChartRequest } from '../core/chart-requests.ts';
import { backoffMs, type Backoff } from '../core/backoff.ts';
import { describeError } from '../engine/errors.ts';
import { drawChart } from '../engine/event-charts.ts';
import { BackgroundLoop } from '../engine/loop.ts';
import type { EventSink } from '../engine/ports.ts';
import type { RolloutService } from '../engine/service.ts';
import type { Logger } from '../log.ts';
import type { ChecklistState } from './checklist-state.ts';
import type { EpisodeParent } from '../render/blocks/episodes.ts';
import { keys, type ChartJob, type SlackMessageRow, type SlackStore } from './store.ts';
import { slackError, type WebClient } from './web.ts';

export interface ChartPosterDeps {
  service: RolloutService;
  store: SlackStore;
  web: WebClient;
  channel: string;
  log: Logger;
  /** Whether this replica led at its last tick (free): a standby does not even look for jobs. */
  mayLead: () => boolean;
  /** Proves leadership before uploading: one replica shares charts. */
  isLeader: () => Promise<boolean>;
  /** How often due retries are looked for when nothing kicks the poster. */
  everyMs?: number;
  onSlackError?: (kind: string) => void;
}

/** A chart that could not be shared within this long is dropped: it would show an old moment as news. */
const CHART_GIVE_UP_MS = 6 * 3_600_000;
/** A chart that failed is tried again after 2 s, 4 s, 8 s… up to 5 min, unless Slack said when. */
const CHART_BACKOFF: Backoff = { minMs: 2_000, maxMs: 5 * 60_000 };

/**
 * Charts follow their text. The sink hook (`withCharts`) records a job only once the text is
 * in the channel; this poster draws and uploads jobs on its own queue, so a chart that fails is
 * retried with backoff and never holds back a message, nor another chart. Rendering happens
 * here, on the leader, after the guard's and the outbox's work, never inside them.
 */
export class ChartPoster {
  private readonly loop: BackgroundLoop;
  private readonly log: Logger;

  constructor(private readonly deps: ChartPosterDeps) {
    this.log = deps.log.child({ component: 'charts' });
    this.loop = new BackgroundLoop({
      pass: () => this.pass(),
      onError: (err) => this.log.warn('charts: pass failed, will retry', { error: describeError(err) }),
    });
  }

  start(): void {
    this.loop.start(this.deps.everyMs ?? 5_000, { unref: true });
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Shares due charts soon; calls while a pass runs coalesce into one more pass. */
  kick(): void {
    this.loop.kick();
  }

  /** Waits until no pass runs (tests, demo, shutdown). */
  async flush(): Promise<void> {
    this.loop.kick();
    await this.loop.settle();
  }

  private async pass(): Promise<void> {
    const { service, store } = this.deps;
    if (!this.deps.mayLead()) return;
    const jobs = await store.dueChartJobs(service.deps.now());
    if (!jobs.length || !(await this.deps.isLeader())) return;
    for (const job of jobs) await this.share(job);
  }

  /** The episode's whole chart is in its thread: the first breach's chart goes (deleted, or never shared). */
  private async replaceFirst(key: string): Promise<void> {
    const { service, store, web } = this.deps;
    const fileId = await store.retireChartJob(key, service.deps.now());
    if (!fileId) return;
    try {
      await web.files.delete({ file: fileId });
    } catch (err) {
      const slack = slackError(err);
      if (slack.fromSlack) this.deps.onSlackError?.(slack.label);
      // Two charts in the thread is untidy, not wrong: not worth a retry queue of its own.
      this.log.warn('charts: could not delete the chart the whole episode replaces', { fileId, error: describeError(err) });
    }
  }

  private async share(job: ChartJob): Promise<void> {
    const { service, web, store } = this.deps;
    const now = service.deps.now;
    try {
      const chart = await drawChart(service, job.request);
      const res = (await web.files.uploadV2({
        channel_id: job.channel,
        thread_ts: job.threadTs,
        file: chart.png,
        filename: chart.filename,
        title: chart.title,
        alt_text: chart.altText,
      })) as { files?: { files?: { id?: string }[] }[] };
      const fileId = res.files?.[0]?.files?.[0]?.id ?? 'unknown';
      await store.chartShared(job.id, fileId, chart.png.length, now());
      if (job.key.endsWith(':whole')) await this.replaceFirst(job.key.replace(/:whole$/, ':first'));
    } catch (err) {
      const slack = slackError(err);
      if (slack.fromSlack) this.deps.onSlackError?.(slack.label);
      const failure = slack.fromSlack ? slack.failure : null;
      const error =
        failure?.kind === 'retry' ? failure.error.message : failure ? `Slack refused the chart: ${failure.code}` : describeError(err);
      const age = differenceInMilliseconds(now(), job.createdAt);
      const retryAfter =
        failure?.kind === 'retry' && failure.error.retryAfterMs !== null
          ? failure.error.retryAfterMs
          : backoffMs(job.attempts + 1, CHART_BACKOFF);
      // A payload Slack will never take, or a chart too old to be news, is dropped; anything else waits its turn again.
      const giveUp = (failure !== null && failure.kind !== 'retry') || age + retryAfter > CHART_GIVE_UP_MS;
      await store.chartFailed(job.id, error, giveUp ? null : addMilliseconds(now(), retryAfter), now());
      this.log.warn(giveUp ? 'charts: gave up on a chart' : 'charts: upload failed, will retry', {
        key: job.key,
        error,
        attempts: job.attempts + 1,
      });
    }
  }
}

/**
 * The sink hook: after the wrapped sink delivered a report, a breach alert or a rollback alert,
 * records its chart, threaded under the stage's checklist (reports) or under the alert itself.
 * A retried delivery records nothing twice (one job per outbox row). Breaches are told as
 * episodes (episode-alerts.ts), and so are their charts: see episodeCharts.
 */
export function withCharts(
  inner: EventSink,
  deps: { service: RolloutService; store: SlackStore; channel: string; onRecorded: () => void },
): EventSink {
  const { now } = deps.service.deps;
  const { store } = deps;
  const episodes = episodeCharts(deps);
  return {
    notice: (text) => inner.notice(text),
    async deliver(event: RolloutEvent, meta) {
      await inner.deliver(event, meta);
      const plan = deps.service.plan;
      if (event.kind === 'breach_started' || event.kind === 'breach_recovered') return episodes.breach(event, meta.id);
      if (event.kind === 'auto_rollback' || event.kind === 'manual_rollback') await episodes.rolledBack(event.runId, event.at);
      if (!CHARTED_KINDS.has(event.kind) || !('runId' in event)) return;
      const posted = await store.message(keys.event(meta.id));
      if (!posted) return;
      const checklist = 'stage' in event ? await store.message<ChecklistState>(keys.checklist(event.runId, event.stage)) : null;
      const request = chartRequestFor(plan, event, checklist?.state.started ?? null);
      if (!request) return;
      const threadTs = event.kind === 'report' ? (checklist?.ts ?? posted.ts) : posted.ts;
      await store.recordChartJob({ key: keys.event(meta.id), channel: deps.channel, threadTs, request }, now());
      deps.onRecorded();
    },
  };
}

type Breach = Extract<RolloutEvent, { kind: 'breach_started' | 'breach_recovered' }>;

/**
 * One chart per breach episode, under the episode's parent: the first breach's chart when it is
 * posted; later breaches add none. When the episode ends (no breach for the episode window after
 * a recovery, or a rollback) the chart of the whole episode replaces it: scheduled at each
 * recovery for the end of the window, cancelled by a breach that comes first.
 */
function episodeCharts(deps: { service: RolloutService; store: SlackStore; channel: string; onRecorded: () => void }) {
  const { store, channel } = deps;
  const now = () => deps.service.deps.now();

  async function whole(row: SlackMessageRow<EpisodeParent>, dueAt: Date): Promise<void> {
    const e = row.state.episode;
    const request = episodeChartRequest(deps.service.plan, e);
    await store.scheduleChartJob(
      { key: keys.episodeChart(e.runId, e.line, e.firstBreachAt, 'whole'), channel, threadTs: row.ts, request },
      now(),
      dueAt,
    );
    deps.onRecorded();
  }

  return {
    async breach(event: Breach, outboxId: number): Promise<void> {
      const row = await store.message<EpisodeParent>(keys.episode(event.runId, event.line.name));
      // Only the episode's latest event decides (a retried older one was already told).
      if (!row || row.state.episode.lastOutboxId !== outboxId) return;
      const e = row.state.episode;
      if (event.kind === 'breach_started' && e.told === 1) {
        const request = chartRequestFor(deps.service.plan, event, null);
        if (!request) return;
        await store.recordChartJob(
          { key: keys.episodeChart(e.runId, e.line, e.firstBreachAt, 'first'), channel, threadTs: row.ts, request },
          now(),
        );
        deps.onRecorded();
        return;
      }
      // Breaching again: the episode goes on, and its whole chart waits for the next recovery.
      if (event.kind === 'breach_started') return store.cancelChartJob(keys.episodeChart(e.runId, e.line, e.firstBreachAt, 'whole'));
      await whole(row, new Date(Date.parse(event.at) + EPISODE_WINDOW_MS));
    },

    /** A rollback ends the episodes open then (episode-alerts.ts marked them): their whole charts now. */
    async rolledBack(runId: number, at: string): Promise<void> {
      for (const row of await store.runMessages<EpisodeParent>(runId, 'episode:'))
        if (row.state.episode.rolledBackAt === at) await whole(row, now());
    },
  };
}

/** A backtest answered in a channel thread gets its replay's chart in that thread. */
export async function recordBacktestChart(
  store: SlackStore,
  channel: string,
  rootTs: string,
  result: BacktestResult,
  at: Date,
): Promise<void> {
  const request: ChartRequest = {
    kind: 'backtest',
    fromMs: Date.parse(result.from),
    toMs: Date.parse(result.to),
    baselineCost: result.baselineCost,
    rollbacks: result.rollbacks.length,
  };
  await store.recordChartJob({ key: `backtest:${rootTs}`, channel, threadTs: rootTs, request }, at);
}
