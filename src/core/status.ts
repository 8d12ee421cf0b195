import { differenceInMilliseconds } from 'date-fns/differenceInMilliseconds';
import type { Plan } from '../plan/plan.ts';
import type { LineClock } from './breach-clock.ts';
import type { LineEvaluation } from './red-lines.ts';
import type { TrafficSplit } from './metrics.ts';
import type { FlagReading } from './weights.ts';
import { sameWeights } from './weights.ts';
import type { RequestView, RunView } from './views.ts';
import { allowedNow, isActiveStage, soakLeftMs } from './state-machine.ts';
import type { HealthReading } from './health.ts';
import type { StageVerdicts } from './judge.ts';

interface StatusLine {
  evaluation: LineEvaluation;
  /** How long the breach has held, and the red line's `for`. */
  heldMs: number | null;
  forMs: number;
}

export interface StatusView {
  at: Date;
  run: RunView | null;
  /** idle, a stage name, complete, rolled_back. */
  state: string;
  active: boolean;
  flag: FlagReading;
  /** The flag differs from what the bot last wrote (someone changed it by hand). */
  drift: string | null;
  health: HealthReading;
  soak: { elapsedMs: number; totalMs: number; leftMs: number } | null;
  lines: StatusLine[];
  /** The guard's last evaluation time; null before the first. */
  guardEvaluatedAt: Date | null;
  split: TrafficSplit & { windowMs: number };
  pending: RequestView | null;
  allowed: string[];
  autoRollback: boolean;
  metricsError: string | null;
  /** The judge's always-valid verdicts on the stage so far (from the guard), when there are any. */
  verdicts: StageVerdicts | null;
}

export function flagDrift(plan: Plan, run: RunView | null, flag: FlagReading): string | null {
  if (!run || !(isActiveStage(plan, run.state) || run.state === 'complete')) return null;
  if (flag.kind === 'malformed') return `the flag row is malformed (${flag.problem}); changed outside the bot, by whom is unknown`;
  if (!sameWeights(plan, flag.weights, run.writtenWeights)) {
    const what = flag.kind === 'missing' ? 'the flag row was deleted' : `the flag holds ${JSON.stringify(flag.weights)}`;
    return `${what}, not the ${JSON.stringify(run.writtenWeights)} the bot wrote; changed outside the bot, by whom is unknown`;
  }
  return null;
}

export function buildStatus(input: {
  plan: Plan;
  now: Date;
  run: RunView | null;
  flag: FlagReading;
  health: HealthReading;
  lines: LineEvaluation[];
  clocks: Partial<Record<string, LineClock>>;
  guardEvaluatedAt: Date | null;
  split: TrafficSplit;
  pending: RequestView | null;
  metricsError: string | null;
  verdicts?: StageVerdicts | null;
}): StatusView {
  const { plan, now, run } = input;
  const active = !!run && isActiveStage(plan, run.state);
  const stage = active ? plan.stages.find((s) => s.name === run!.state)! : null;
  const pos = run ? { state: run.state, stageStartedAt: run.stageStartedAt } : null;
  return {
    at: now,
    run,
    state: run?.state ?? 'idle',
    active,
    flag: input.flag,
    drift: flagDrift(plan, run, input.flag),
    health: input.health,
    soak:
      stage && stage.soakMs !== null
        ? { elapsedMs: differenceInMilliseconds(now, run!.stageStartedAt), totalMs: stage.soakMs, leftMs: soakLeftMs(plan, pos!, now) }
        : null,
    lines: input.lines.map((evaluation) => {
      const clock = input.clocks[evaluation.name];
      return {
        evaluation,
        heldMs: clock?.breachSince && active ? differenceInMilliseconds(now, clock.breachSince) : null,
        forMs: plan.redLines[evaluation.name].forMs,
      };
    }),
    guardEvaluatedAt: input.guardEvaluatedAt,
    split: { ...input.split, windowMs: plan.trafficWindowMs },
    pending: input.pending,
    allowed: allowedNow(plan, pos, now),
    autoRollback: plan.autoRollback,
    metricsError: input.metricsError,
    verdicts: active ? (input.verdicts ?? null) : null,
  };
}
