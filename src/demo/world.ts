import { chartPng } from '../adapters/chart-png.ts';
import type { Plan, Weights } from '../plan/plan.ts';
import type { HealthReading } from '../core/health.ts';
import { readFlag } from '../core/weights.ts';
import type { Actor } from '../core/views.ts';
import { openDatabase, type Database } from '../db/database.ts';
import { migrate } from '../db/migrate.ts';
import * as store from '../db/store.ts';
import { adminList } from '../engine/access.ts';
import { soleLeader } from '../engine/leader.ts';
import type { EventSink } from '../engine/ports.ts';
import { Scheduler } from '../engine/scheduler.ts';
import { RolloutService } from '../engine/service.ts';
import type { Logger } from '../log.ts';
import { ChecklistRefresher } from '../slack/refresher.ts';
import { slackStore } from '../slack/store.ts';
import { slackSink } from '../slack/sink.ts';
import { ChartPoster, withCharts } from '../slack/chart-poster.ts';
import { TerminalChannel } from './channel.ts';
import { ManualClock } from './clock.ts';
import { Random } from './random.ts';
import type { Screen } from './screen.ts';
import type { Style } from './terminal.ts';
import type { Timeline } from './timeline.ts';
import { PROFILES, TrafficGenerator } from './traffic.ts';

export const ALICE: Actor = { id: 'U0ALICE', via: 'demo' };
export const BOB: Actor = { id: 'U0BOB', via: 'demo' };
export const NAMES: Record<string, string> = { [ALICE.id]: 'alice', [BOB.id]: 'bob' };
const DEMO_START = '2026-11-28T09:00:00Z';

/**
 * Everything the demo runs, wired as production wires it: the embedded database in memory, the
 * command core, the scheduler (guard + outbox), the real Slack sink and checklist refresher —
 * over a terminal channel instead of Slack's Web API — and a simulated generation app.
 */
export interface World {
  plan: Plan;
  db: Database;
  clock: ManualClock;
  service: RolloutService;
  scheduler: Scheduler;
  refresher: ChecklistRefresher;
  channel: TerminalChannel;
  /** Charts after reports and alerts, written to a folder (null: off). */
  charts: ChartPoster | null;
  traffic: TrafficGenerator;
  /** The weights the app reads from the flag right now (missing row: all on FAL). */
  liveWeights(): Promise<Weights>;
  close(): Promise<void>;
}

export async function openWorld(opts: {
  plan: Plan;
  rate: number;
  seed: number;
  screen: Screen;
  style: Style;
  timeline: Timeline;
  log: Logger;
  db?: Database;
  chartsDir: string | null;
}): Promise<World> {
  const { plan, screen, style, timeline, log } = opts;
  const clock = new ManualClock(DEMO_START);
  // Always the embedded database in memory: the demo never connects to a real one.
  const db = opts.db ?? (await openDatabase({ dataDir: null }));
  if (!opts.db) await migrate(db.pool, { createAnalyticsIndex: true });
  // A malformed flag: the app keeps its default, all on FAL.
  const liveWeights = async () => {
    const flag = readFlag(plan, await store.readFlagRow(db.pool, plan));
    return flag.kind === 'malformed' ? plan.rollbackWeights : flag.weights;
  };
  // The app's /api/health: both providers up, reporting the weights it read from the flag.
  let lastWeights: Weights = plan.rollbackWeights;
  const health = async (): Promise<HealthReading> => {
    lastWeights = await liveWeights().catch(() => lastWeights);
    const provider = (p: string) => ({ ok: true, latencyMs: Math.round((PROFILES[p]?.medianLatencyMs ?? 1000) / 25), error: null });
    return {
      kind: 'read',
      providers: { [plan.from]: provider(plan.from), [plan.to]: provider(plan.to) },
      weights: lastWeights,
      weightsProblem: null,
      checkedAt: clock.now().toISOString(),
    };
  };
  const service = new RolloutService({
    db,
    plan,
    now: clock.now,
    access: adminList([ALICE.id, BOB.id]),
    health: { read: health },
    charts: chartPng,
  });
  const channel = new TerminalChannel(screen, style, clock.now);
  channel.chartsDir = opts.chartsDir;
  const tables = slackStore(db);
  const text = slackSink({
    plan,
    store: tables,
    runBaseline: (runId) => service.reads.runBaseline(runId),
    web: channel.web,
    channel: 'C0ROLLOUT',
    log,
    now: clock.now,
  });
  // The story drives the poster itself (flush after each step), as it drives the scheduler.
  const charts = opts.chartsDir
    ? new ChartPoster({
        service,
        store: tables,
        web: channel.web,
        channel: 'C0ROLLOUT',
        log,
        mayLead: () => scheduler.isLeader,
        isLeader: () => scheduler.confirmLeader(),
      })
    : null;
  const slack = charts ? withCharts(text, { service, store: tables, channel: 'C0ROLLOUT', onRecorded: () => {} }) : text;
  const sink: EventSink = {
    async deliver(event, meta) {
      await slack.deliver(event, meta);
      timeline.event(event);
    },
    notice: (text) => slack.notice(text),
  };
  const scheduler: Scheduler = new Scheduler({ service, sink, leader: soleLeader(), log });
  const refresher = new ChecklistRefresher({ service, store: tables, web: channel.web, log, isLeader: () => scheduler.confirmLeader() });
  const traffic = new TrafficGenerator(new Random(opts.seed), opts.rate, { from: plan.from, to: plan.to });
  return {
    plan,
    db,
    clock,
    service,
    scheduler,
    refresher,
    channel,
    charts,
    traffic,
    liveWeights,
    async close() {
      await scheduler.flush();
      await charts?.flush();
      if (!opts.db) await db.close();
    },
  };
}
