import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Outcome } from '../core/outcomes.ts';
import { isActiveStage, soakLeftMs } from '../core/state-machine.ts';
import { flagDrift } from '../core/status.ts';
import type { GuardView, RunView } from '../core/views.ts';
import type { EngineObserver } from '../engine/ports.ts';
import type { RolloutService } from '../engine/service.ts';
import { isUnavailable } from '../engine/errors.ts';
import type { Plan } from '../plan/plan.ts';

/**
 * Prometheus metrics of one bot, on a registry of its own (several bots in one process, as in
 * tests, never collide). Counters and histograms count where a change commits, on the replica
 * that made it, so sum() across replicas is right. The rollout's gauges (stage, weights, red
 * lines, outbox) are read from the database at scrape time and reported by the leader only.
 */
export interface RolloutMetrics extends EngineObserver {
  readonly registry: Registry;
  /** What a command did, from any front end. */
  observeOutcome(outcome: Outcome): void;
  /** A Slack call the outbox delivery could not make, by Slack's kind of failure. */
  slackError(kind: string): void;
  /** The exposition text; reads the rollout's gauges first when this replica leads. */
  scrape(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsOptions {
  service: RolloutService;
  isLeader: () => boolean;
  /** This replica reaches the database, as its last query found (the scheduler's watch); default: always. */
  databaseReachable?: () => boolean;
  /** Default process metrics (CPU, memory, event loop lag, GC); on unless a test turns them off. */
  processMetrics?: boolean;
}

const LINE_STATES = ['ok', 'breach', 'no_data', 'error'] as const;

export function rolloutMetrics(opts: MetricsOptions): RolloutMetrics {
  const { service } = opts;
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const reg = [registry];

  const leader = new Gauge({
    name: 'rollout_leader',
    help: '1 on the replica that runs the guard, reports and outbox; 0 on standbys',
    registers: reg,
  });
  const stageInfo = new Gauge({
    name: 'rollout_stage_info',
    help: 'Always 1; the labels say the latest run and its state (idle, a stage, complete, rolled_back)',
    labelNames: ['stage', 'run'],
    registers: reg,
  });
  const stageStarted = new Gauge({
    name: 'rollout_stage_started_timestamp_seconds',
    help: "When the current stage (or the run's end state) began",
    registers: reg,
  });
  const weight = new Gauge({
    name: 'rollout_weight_ratio',
    help: 'Traffic weight per provider (0 to 1), as the feature flag holds it (source="flag") and as the app\'s health endpoint reports it (source="health")',
    labelNames: ['provider', 'source'],
    registers: reg,
  });
  const drift = new Gauge({
    name: 'rollout_flag_drift',
    help: '1 when the flag differs from what the bot wrote (changed by hand)',
    registers: reg,
  });
  const soakLeft = new Gauge({
    name: 'rollout_soak_remaining_seconds',
    help: 'Soak time left in the active stage before the next may be requested',
    registers: reg,
  });
  const lineValue = new Gauge({
    name: 'rollout_red_line_value',
    help: "The red line's metric in its window at the guard's latest evaluation, per provider (only the candidate's is judged; cost: ratio to the baseline)",
    labelNames: ['red_line', 'provider'],
    registers: reg,
  });
  const lineThreshold = new Gauge({
    name: 'rollout_red_line_threshold',
    help: "The red line's threshold from the plan",
    labelNames: ['red_line'],
    registers: reg,
  });
  const lineSamples = new Gauge({
    name: 'rollout_red_line_samples',
    help: "Values behind the candidate's metric at the latest evaluation (below minSamples the state is no_data)",
    labelNames: ['red_line', 'provider'],
    registers: reg,
  });
  const lineState = new Gauge({
    name: 'rollout_red_line_state',
    help: "1 for the red line's state at the latest evaluation, 0 for the others",
    labelNames: ['red_line', 'state'],
    registers: reg,
  });
  const lineHeld = new Gauge({
    name: 'rollout_red_line_breach_seconds',
    help: 'How long the red line has been in breach (0 when not); it fires at its `for`',
    labelNames: ['red_line'],
    registers: reg,
  });
  const lineFor = new Gauge({
    name: 'rollout_red_line_for_seconds',
    help: "The red line's `for` from the plan",
    labelNames: ['red_line'],
    registers: reg,
  });
  const evaluatedAt = new Gauge({
    name: 'rollout_guard_last_evaluation_timestamp_seconds',
    help: 'When the guard last evaluated the active stage',
    registers: reg,
  });
  const stageActive = new Gauge({
    name: 'rollout_stage_active',
    help: '1 while the latest run is in a stage the guard judges (not idle, complete or rolled back), 0 otherwise',
    registers: reg,
  });
  const evaluateEvery = new Gauge({
    name: 'rollout_guard_evaluate_every_seconds',
    help: "How often the guard evaluates (the plan's evaluateEvery), so an alert can tell a late evaluation whatever the plan",
    registers: reg,
  });
  const outboxDepth = new Gauge({
    name: 'rollout_outbox_depth',
    help: 'Events committed but not yet shown (Slack or console)',
    registers: reg,
  });
  const outboxAge = new Gauge({
    name: 'rollout_outbox_oldest_age_seconds',
    help: 'Age of the oldest undelivered event (0 when none)',
    registers: reg,
  });
  const planDiffers = new Gauge({
    name: 'rollout_plan_differs',
    help: "1 when this replica's ROLLOUT_PLAN differs from the plan stored with the run in progress, which it follows until the run ends; 0 otherwise",
    registers: reg,
  });
  const planInfo = new Gauge({
    name: 'rollout_plan_info',
    help: 'Always 1; followed="run" when this replica follows the run\'s stored plan because its own differs (run and differing say which run and which keys), followed="own" otherwise',
    labelNames: ['followed', 'run', 'differing'],
    registers: reg,
  });
  const rollout = [
    stageInfo,
    stageStarted,
    weight,
    drift,
    soakLeft,
    lineValue,
    lineThreshold,
    lineSamples,
    lineState,
    lineHeld,
    lineFor,
    evaluatedAt,
    stageActive,
    evaluateEvery,
    outboxDepth,
    outboxAge,
  ];

  const rollbacks = new Counter({
    name: 'rollout_rollbacks_total',
    help: 'Rollbacks: auto (the guard), manual (a command), by_hand (the flag set to the rollback weights outside the bot)',
    labelNames: ['kind', 'red_line'],
    registers: reg,
  });
  const promotions = new Counter({
    name: 'rollout_promotions_total',
    help: 'Stages started',
    labelNames: ['stage', 'forced'],
    registers: reg,
  });
  const refusals = new Counter({
    name: 'rollout_refusals_total',
    help: 'Commands refused, by refusal code',
    labelNames: ['code'],
    registers: reg,
  });
  const approvals = new Counter({
    name: 'rollout_approvals_total',
    help: 'Approvals recorded (including the one that starts the stage)',
    registers: reg,
  });
  const breaches = new Counter({
    name: 'rollout_breach_episodes_total',
    help: 'Breaches that started (a red line went into breach)',
    labelNames: ['red_line'],
    registers: reg,
  });
  const slackErrors = new Counter({
    name: 'rollout_slack_delivery_errors_total',
    help: 'Slack calls of the outbox delivery that failed, by kind',
    labelNames: ['kind'],
    registers: reg,
  });
  const dbErrors = new Counter({
    name: 'rollout_database_errors_total',
    help: 'Database failures in the background work (guard, report, outbox, metrics), by what the bot was doing; unavailable="true" when the database could not be reached',
    labelNames: ['during', 'unavailable'],
    registers: reg,
  });
  const reachable = new Gauge({
    name: 'rollout_database_reachable',
    help: "1 while this replica reaches the database, 0 from the first query that could not until one can; 0 on one replica while others show 1 is that replica's own path",
    registers: reg,
  });
  const guardSeconds = new Histogram({
    name: 'rollout_guard_cycle_seconds',
    help: 'Duration of one guard cycle (metric reads and decision)',
    labelNames: ['result'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: reg,
  });
  const decisionSeconds = new Histogram({
    name: 'rollout_request_decision_seconds',
    help: 'Time from a stage request to its approval or rejection',
    labelNames: ['decision'],
    buckets: [30, 60, 300, 600, 1800, 3600, 7200],
    registers: reg,
  });
  const stageSeconds = new Histogram({
    name: 'rollout_stage_seconds',
    help: 'Time spent in a stage, observed by the leader when the stage ends',
    labelNames: ['stage', 'ended'],
    buckets: [600, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800],
    registers: reg,
  });

  // reset() leaves a label-less gauge at 0; remove() drops it, so what is not known is not reported.
  const labelless = [stageStarted, drift, soakLeft, evaluatedAt, stageActive, evaluateEvery, outboxDepth, outboxAge];
  const clearRollout = () => {
    for (const g of rollout) g.reset();
    for (const g of labelless) g.remove();
  };

  let seen: { runId: number; state: string; since: Date } | null = null;

  async function readRollout(): Promise<void> {
    const now = service.deps.now();
    const { run, flag, health, guard, outbox, plan } = await service.reads.gauges();
    clearRollout();
    noteStage(plan, run);
    stageInfo.set({ stage: run?.state ?? 'idle', run: String(run?.id ?? 0) }, 1);
    if (run) stageStarted.set(Math.floor((run.endedAt ?? run.stageStartedAt).getTime() / 1000));
    if (flag.kind !== 'malformed') for (const [p, w] of Object.entries(flag.weights)) weight.set({ provider: p, source: 'flag' }, w);
    if (health.kind === 'read' && health.weights)
      for (const [p, w] of Object.entries(health.weights)) weight.set({ provider: p, source: 'health' }, w);
    drift.set(flagDrift(plan, run, flag) ? 1 : 0);
    if (run && isActiveStage(plan, run.state)) soakLeft.set(soakLeftMs(plan, run, now) / 1000);
    stageActive.set(run && isActiveStage(plan, run.state) ? 1 : 0);
    evaluateEvery.set(plan.evaluateEveryMs / 1000);
    if (guard) setLines(plan, guard, now);
    outboxDepth.set(outbox.depth);
    outboxAge.set(outbox.oldestAt ? Math.max(0, (now.getTime() - outbox.oldestAt.getTime()) / 1000) : 0);
  }

  function setLines(p: Plan, guard: GuardView, now: Date): void {
    evaluatedAt.set(guard.evaluatedAt.getTime() / 1000);
    for (const e of guard.evaluations) {
      const red_line = e.name;
      if (e.value !== null) lineValue.set({ red_line, provider: p.to }, e.value);
      if (e.fromValue !== null) lineValue.set({ red_line, provider: p.from }, e.fromValue);
      lineThreshold.set({ red_line }, e.threshold);
      lineSamples.set({ red_line, provider: p.to }, e.samples);
      for (const s of LINE_STATES) lineState.set({ red_line, state: s }, e.state === s ? 1 : 0);
      const since = guard.clocks.lines[e.name]?.breachSince;
      lineHeld.set({ red_line }, since ? Math.max(0, (now.getTime() - Date.parse(since)) / 1000) : 0);
      lineFor.set({ red_line }, p.redLines[e.name].forMs / 1000);
    }
  }

  /** A stage's time is known when the leader sees the run move on (at the next scrape). */
  function noteStage(plan: Plan, run: RunView | null): void {
    if (!run) return;
    if (seen && seen.runId === run.id && seen.state !== run.state && isActiveStage(plan, seen.state)) {
      const ended = run.endedAt ?? run.stageStartedAt;
      stageSeconds.observe({ stage: seen.state, ended: run.state }, Math.max(0, (ended.getTime() - seen.since.getTime()) / 1000));
    }
    seen = { runId: run.id, state: run.state, since: run.stageStartedAt };
  }

  return {
    registry,
    contentType: registry.contentType,
    observeGuard(result, seconds) {
      guardSeconds.observe({ result: result?.kind ?? 'failed' }, seconds);
      if (!result) return;
      if (result.kind === 'rolled_back') rollbacks.inc({ kind: 'auto', red_line: result.line.name });
      if (result.kind === 'adopted_manual_rollback') rollbacks.inc({ kind: 'by_hand', red_line: 'none' });
      if (result.kind === 'evaluated' || result.kind === 'rolled_back')
        for (const line of result.breachesStarted) breaches.inc({ red_line: line });
    },
    observeOutcome(outcome) {
      switch (outcome.kind) {
        case 'refused':
          refusals.inc({ code: outcome.code });
          return;
        case 'approval_recorded':
          approvals.inc();
          return;
        case 'rejected':
          if (outcome.request.decidedAt)
            decisionSeconds.observe(
              { decision: 'rejected' },
              (outcome.request.decidedAt.getTime() - outcome.request.requestedAt.getTime()) / 1000,
            );
          return;
        case 'stage_started':
          promotions.inc({ stage: outcome.stage, forced: String(outcome.forced) });
          if (outcome.request?.decidedAt) {
            approvals.inc();
            decisionSeconds.observe(
              { decision: 'approved' },
              (outcome.request.decidedAt.getTime() - outcome.request.requestedAt.getTime()) / 1000,
            );
          }
          return;
        case 'rolled_back':
          rollbacks.inc({ kind: 'manual', red_line: 'none' });
          return;
        default:
      }
    },
    slackError(kind) {
      slackErrors.inc({ kind });
    },
    databaseError(during, err) {
      // Postgres errors carry a five-character SQLSTATE; anything else (a bug) is only logged.
      const code = (err as { code?: unknown } | null)?.code;
      if (isUnavailable(err) || (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)))
        dbErrors.inc({ during, unavailable: String(isUnavailable(err)) });
    },
    async scrape() {
      // A leader whose guard cycles fail for any reason but the database keeps the lock and its
      // flag (engine/scheduler.ts), so it keeps reporting and its stale last evaluation shows.
      const leading = opts.isLeader();
      leader.set(leading ? 1 : 0);
      reachable.set(opts.databaseReachable?.() === false ? 0 : 1);
      // Every replica, standbys too: it is about this replica's own plan (followed at each tick).
      const followed = service.deps.plans.state;
      planDiffers.set(followed.runId === null ? 0 : 1);
      planInfo.reset();
      planInfo.set(
        followed.runId === null
          ? { followed: 'own', run: '', differing: '' }
          : { followed: 'run', run: String(followed.runId), differing: followed.differing.join(',') },
        1,
      );
      if (leading) {
        try {
          await readRollout();
        } catch (err) {
          // Without the database the rollout's state is unknown: report none rather than stale numbers.
          clearRollout();
          dbErrors.inc({ during: 'metrics', unavailable: String(isUnavailable(err)) });
        }
      } else {
        clearRollout();
      }
      return registry.metrics();
    },
  };
}
