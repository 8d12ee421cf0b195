import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import type { RedLineName } from '../plan/plan.ts';
import { durationLabel, formatDuration } from '../plan/duration.ts';
import { RED_LINE_LABELS, type LineEvaluation } from '../core/red-lines.ts';
import type { Reply } from '../core/outcomes.ts';
import type { Actor } from '../core/views.ts';
import type { Logger } from '../log.ts';
import type { Database } from '../db/database.ts';
import { ACTION, parseValue, requestStageValue } from '../render/blocks/buttons.ts';
import { outcomeMessage } from '../render/blocks/outcome.ts';
import { formatValue } from '../render/format.ts';
import { decide } from '../slack/listeners/actions/decide.ts';
import { FAULTS } from './faults.ts';
import type { DemoOptions } from './options.ts';
import { demoPlan } from './plan.ts';
import { Screen } from './screen.ts';
import { ansi, type Style } from './terminal.ts';
import { Timeline } from './timeline.ts';
import { ALICE, BOB, NAMES, openWorld } from './world.ts';

const HOUR = 3_600_000;
/** Traffic the app logged before the rollout: FAL only, so the baseline and the windows start full. */
const HISTORY_MS = HOUR;
/** How long the demo waits for the guard after the fault starts before it gives up. */
const GIVE_UP_AFTER_FAULT_MS = 90 * 60_000;
/** How long the walk to D2 may take before something is wrong (the checklist never turned green). */
const GIVE_UP_BEFORE_D2_MS = 3 * HOUR;

type DemoOutcome = 'auto_rollback' | 'manual_rollback' | 'no_rollback' | 'rollback_before_fault' | 'stuck_before_d2';

export interface DemoResult {
  outcome: DemoOutcome;
  /** The red line that fired the auto-rollback. */
  line: RedLineName | null;
  firstBreach: Partial<Record<RedLineName, Date>>;
  faultAt: Date | null;
  rollbackAt: Date | null;
  noTrafficAt: Date | null;
  /** Breach episodes that started (a red line went from ok or no data to breach). */
  breaches: number;
  simMs: number;
  wallMs: number;
  steps: number;
  messages: number;
  /** PNG files of the charts the bot shared (stage reports, alerts), in order. */
  charts: string[];
}

export interface DemoIo {
  out: Writable;
  /** Override terminal detection (tests). */
  tty?: boolean;
  color?: boolean;
  /**
   * Tests only: an empty, migrated embedded database to use (and leave open) instead of a new
   * one, so several runs share one PGlite start.
   */
  db?: Database;
}

/** The whole rehearsal: history, D1, D2, the fault, the guard's answer, the timeline. */
export async function runDemo(options: DemoOptions, io: DemoIo): Promise<DemoResult> {
  const wallStart = Date.now();
  const screen = new Screen(io.out, { tty: io.tty, color: io.color });
  const style: Style = { color: screen.color, names: NAMES };
  const a = ansi(style.color);
  const { plan, soaks } = demoPlan(options.speed);
  const timeline = new Timeline(NAMES);
  const log: Logger = {
    info() {},
    warn: (msg, f) => screen.print(a.dim(`[bot warn] ${msg}${f ? ` ${JSON.stringify(f)}` : ''}`)),
    error: (msg, f) => screen.print(a.red(`[bot error] ${msg}${f ? ` ${JSON.stringify(f)}` : ''}`)),
    child: () => log,
  };
  const spec = FAULTS[options.fault];
  const fault = { kind: options.fault, size: options.size };
  const speedText = options.speed === null ? 'max (as fast as this machine goes)' : `×${options.speed}`;

  screen.print(
    `${a.bold('rollout-bot demo')} — a rehearsal on an in-memory embedded database; nothing is sent to Slack or to any real database.`,
  );
  screen.print(
    [
      `  fault: ${options.fault}, ${spec.describe(options.size)}, ${durationLabel(options.onsetMs)} after D2 starts${spec.expectedLine ? ` (the ${RED_LINE_LABELS[spec.expectedLine]} red line should catch it)` : ' (not a rollback: an alert, then an admin acts)'}`,
      `  app: ${options.rate} requests/s, routed by the live weights in feature_flags; seed ${options.seed}`,
      `  time: ${speedText}; soaks ${soaks.map((s) => `${s.stage.toUpperCase()} ${durationLabel(s.seedMs)} → ${formatDuration(s.demoMs)}`).join(', ')}; red lines, windows and \`for\` as in the seed plan, guard every ${durationLabel(plan.evaluateEveryMs)}`,
      `  admins: @alice and @bob (approvals: ${plan.approvals} from another admin)`,
      '',
    ].join('\n'),
  );

  screen.print(a.dim('Starting the embedded database and writing the hour of FAL-only traffic before D1…'));
  const chartsDir = chartsFolder(options.charts);
  const world = await openWorld({ plan, rate: options.rate, seed: options.seed, screen, style, timeline, log, db: io.db, chartsDir });
  const { clock, service, scheduler, refresher, channel, db } = world;
  /** The outbox, then the charts that follow its messages (as the bot's leader does). */
  const deliver = async () => {
    await scheduler.flush();
    await world.charts?.flush();
  };
  const start = clock.now();
  let steps = 0;
  let outcome: DemoOutcome | null = null;
  let lastEval: LineEvaluation[] = [];
  let lastRate = 0;
  try {
    // An hour of the app's traffic before anyone touches the flag: all on FAL.
    await world.traffic.write(db.pool, new Date(start.getTime() - HISTORY_MS), start, plan.rollbackWeights);

    /** One admin's action, as Slack would carry it to the command core; the private reply is shown. */
    const act = async (actor: Actor, what: string, work: () => Promise<Reply>) => {
      screen.print(a.bold(`» @${NAMES[actor.id]} ${what}`));
      const reply = await work();
      channel.ephemeral(NAMES[actor.id], outcomeMessage(plan, reply.outcome));
      await deliver();
      return reply;
    };
    const listener = { service, log, afterCommand: () => scheduler.kick(), answerWithinMs: 4_000 };

    await scheduler.tick(); // becomes the (sole) leader, so the outbox drains
    await act(ALICE, 'types /rollout d1', () => service.handle('d1', ALICE));

    let faultAt: Date | null = null;
    let pendingApproval: { by: Actor; after: number } | null = { by: BOB, after: 0 };
    let noTrafficSeen: number | null = null;
    let requestedD2 = false;
    let afterEnd = 0;
    const pace = wallStart;
    const reportEvery = cronMinutes(plan.reportCron);

    for (;;) {
      // The admins act on what the channel shows, one evaluation after the event (people are not instant).
      if (pendingApproval && steps > pendingApproval.after) {
        const value = channel.buttonValue(ACTION.approve);
        const by: Actor = pendingApproval.by;
        pendingApproval = null;
        if (value) {
          const r = await act(by, `clicks [ Approve ${JSON.parse(value).stage.toUpperCase()} ]`, () =>
            decide(listener, by, value, 'approve'),
          );
          // Refused while the request stays open (a red line breached since it was asked): try again at the next evaluation.
          if (r.outcome.kind === 'refused') pendingApproval = { by, after: steps };
        }
      }
      const run = await service.reads.latestRun();
      if (run?.state === 'd1' && !requestedD2) {
        const value = channel.buttonValue(ACTION.requestStage);
        const parsed = value ? parseValue(requestStageValue, value) : null;
        if (parsed && parsed.from === 'd1') {
          requestedD2 = true;
          const r = await act(BOB, `clicks [ Request D2 ] on the D1 checklist`, () =>
            service.run({ kind: 'promote', stage: parsed.to, force: false }, BOB),
          );
          if (r.outcome.kind === 'requested') pendingApproval = { by: ALICE, after: steps };
          else requestedD2 = false;
        }
      }
      if (run?.state === 'd2' && !faultAt) {
        faultAt = new Date(run.stageStartedAt.getTime() + options.onsetMs);
      }
      if (faultAt && !timeline.faultAt && clock.now() >= faultAt) timeline.fault(faultAt, spec.describe(options.size));
      if (timeline.noTrafficAt && noTrafficSeen === null) noTrafficSeen = steps;
      if (noTrafficSeen !== null && steps > noTrafficSeen && !timeline.rollbackAt && run && run.state === 'd2') {
        await act(ALICE, 'reads the alert and types /rollout rollback Runware gets no traffic', () =>
          service.handle('rollback Runware gets no traffic', ALICE),
        );
      }

      // End conditions.
      if (timeline.rollbackAt) {
        if (!outcome)
          outcome = !timeline.faultAt ? 'rollback_before_fault' : timeline.rollbackKind === 'auto' ? 'auto_rollback' : 'manual_rollback';
        if (afterEnd++ >= 1) break; // one more evaluation: the health endpoint confirms the rollback weights
      } else if (faultAt && clock.now().getTime() - faultAt.getTime() > GIVE_UP_AFTER_FAULT_MS) {
        outcome = 'no_rollback';
        break;
      } else if (!faultAt && clock.now().getTime() - start.getTime() > GIVE_UP_BEFORE_D2_MS) {
        outcome = 'stuck_before_d2';
        break;
      }

      // One evaluation interval of the app's traffic, by the weights it reads now.
      const from = clock.now();
      const to = new Date(from.getTime() + plan.evaluateEveryMs);
      const weights = await world.liveWeights();
      const written = await world.traffic.write(db.pool, from, to, weights, faultAt ? fault : null, faultAt);
      lastRate = written.requests / (plan.evaluateEveryMs / 1000);
      clock.set(to);
      steps++;
      const result = await scheduler.tick();
      if (result?.kind === 'evaluated') lastEval = result.evaluations;
      if (reportEvery && Math.floor(to.getTime() / (reportEvery * 60_000)) > Math.floor(from.getTime() / (reportEvery * 60_000)))
        await scheduler.report();
      await refresher.refresh();
      await deliver();

      const r = await service.reads.latestRun();
      screen.progress(
        progressLine({
          now: to,
          start,
          wallStart,
          speed: options.speed,
          stage: r?.state ?? 'idle',
          candidate: `${plan.providerNames[plan.to]} ${Math.round((weights[plan.to] ?? 0) * 100)}%`,
          rate: lastRate,
          lines: lastEval,
          faultAt: timeline.faultAt,
        }),
        to.getTime() - start.getTime(),
      );
      if (options.speed !== null) {
        const due = pace + (to.getTime() - start.getTime()) / options.speed;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  } finally {
    await world.close();
  }
  screen.clear();
  const wallMs = Date.now() - wallStart;
  const result: DemoResult = {
    outcome: outcome!,
    line: timeline.firedLine,
    firstBreach: timeline.firstBreach,
    faultAt: timeline.faultAt,
    rollbackAt: timeline.rollbackAt,
    noTrafficAt: timeline.noTrafficAt,
    breaches: timeline.moments.filter((m) => m.key === 'breach').length,
    simMs: clock.now().getTime() - start.getTime(),
    wallMs,
    steps,
    messages: channel.posted.length,
    charts: channel.charts,
  };
  screen.print(`\n${timeline.render(style.color, summary(result, spec.expectedLine))}`);
  if (chartsDir) {
    screen.print(
      result.charts.length
        ? `\nCharts the bot shared in Slack (${result.charts.length} PNG files in ${chartsDir}):\n${result.charts.map((p) => `  ${p}`).join('\n')}`
        : `\nNo charts were shared (no report or alert); the folder ${chartsDir} is empty.`,
    );
  }
  return result;
}

/** --charts: the folder given (created if missing), a new temporary one by default, or none. */
function chartsFolder(option: string | null | false): string | null {
  if (option === false) return null;
  if (option === null) return mkdtempSync(join(tmpdir(), 'rollout-demo-charts-'));
  const dir = resolve(option);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new Error(
      `--charts ${option}: cannot create the folder (${(err as Error).message}); give a folder you can write to, or --charts none`,
    );
  }
  return dir;
}

function summary(r: DemoResult, expected: RedLineName | null): string[] {
  const after = (at: Date | null) => (at && r.faultAt ? formatDuration(at.getTime() - r.faultAt.getTime()) : '—');
  const head = {
    auto_rollback: `Outcome: auto-rollback by the ${r.line ? RED_LINE_LABELS[r.line] : '?'} red line, ${after(r.rollbackAt)} after the fault started${expected && r.line !== expected ? ` (expected ${RED_LINE_LABELS[expected]})` : ''}.`,
    manual_rollback: `Outcome: no auto-rollback (Runware had no traffic to judge, so the red lines read "no data"); the guard alerted ${after(r.noTrafficAt)} after the fault started and @alice rolled back by hand.`,
    no_rollback: r.breaches
      ? `Outcome: no rollback within ${formatDuration(GIVE_UP_AFTER_FAULT_MS)} of the fault: red lines breached ${r.breaches} time${r.breaches === 1 ? '' : 's'} but recovered each time before their \`for\` had passed.`
      : `Outcome: no rollback within ${formatDuration(GIVE_UP_AFTER_FAULT_MS)} of the fault: it never crossed a red line.`,
    rollback_before_fault: 'Outcome: a rollback happened before the fault was injected — a false alarm on healthy traffic.',
    stuck_before_d2: 'Outcome: the rollout never reached D2 (the D1 checklist did not turn green).',
  }[r.outcome];
  return [
    head,
    `Simulated ${formatDuration(r.simMs)} after D1 was requested (${r.steps} guard evaluations); ${r.messages} channel messages; wall time ${(r.wallMs / 1000).toFixed(1)} s.`,
  ];
}

// A report schedule of every N minutes ("*/N * * * *") → N; other schedules are not simulated.
function cronMinutes(expr: string): number | null {
  const m = /^\*\/(\d+) \* \* \* \*$/.exec(expr.trim());
  return m ? Number(m[1]) : expr.trim() === '* * * * *' ? 1 : null;
}

function progressLine(p: {
  now: Date;
  start: Date;
  wallStart: number;
  speed: number | null;
  stage: string;
  candidate: string;
  rate: number;
  lines: LineEvaluation[];
  faultAt: Date | null;
}): string {
  const sim = formatDuration(p.now.getTime() - p.start.getTime());
  const wall = ((Date.now() - p.wallStart) / 1000).toFixed(1);
  const vals = p.lines
    .map(
      (l) =>
        `${short[l.name]} ${l.state === 'no_data' && l.value === null ? '—' : formatValue(l.name, l.value).replace(' baseline', '')}${l.state === 'breach' ? '!' : ''}`,
    )
    .join(' ');
  const fault = p.faultAt ? ` · fault since ${formatDuration(p.now.getTime() - p.faultAt.getTime())}` : '';
  return `⏱ ${p.now.toISOString().slice(11, 19)} (+${sim}, wall ${wall}s${p.speed ? `, ×${p.speed}` : ''}) · ${p.stage.toUpperCase()} · ${p.candidate} · ${p.rate.toFixed(1)} req/s${vals ? ` · ${vals}` : ''}${fault}`;
}

const short: Record<RedLineName, string> = {
  p95LatencyMs: 'p95',
  failureRatePercent: 'fail',
  costPerImageRatio: 'cost',
  regenerateRatePercent: 'regen',
};
