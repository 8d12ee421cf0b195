import type { HealthReading } from '../core/health.ts';
import { routeWindow, trafficSplit } from '../core/metrics.ts';
import { judgeLines } from '../core/judge.ts';
import { errorEvaluations, evaluateRedLines, type LineEvaluation } from '../core/red-lines.ts';
import { isActiveStage } from '../core/state-machine.ts';
import { buildStatus, type StatusView } from '../core/status.ts';
import type { AuditEntry, GuardView, RequestView, RunView } from '../core/views.ts';
import { readFlag, type FlagReading } from '../core/weights.ts';
import { readSnapshot } from '../db/metrics-queries.ts';
import * as store from '../db/store.ts';
import type { Plan } from '../plan/plan.ts';
import { healthReading, metricWindows, type EngineDeps } from './deps.ts';
import { describeError, isUnavailable } from './errors.ts';

/** What Prometheus's rollout gauges show, read at scrape time (adapters/metrics.ts). */
export interface RolloutGauges {
  run: RunView | null;
  flag: FlagReading;
  health: HealthReading;
  /** The guard's latest evaluation of the active stage; null when idle or not yet evaluated. */
  guard: GuardView | null;
  outbox: { depth: number; oldestAt: Date | null };
  /** The plan in force (the run's while it is in progress). */
  plan: Plan;
}

/**
 * The read model: everything a front end may know about the rollout, asked of the engine rather
 * than read from its tables. Commands (service.ts) change state; this only reads.
 */
export class RolloutReads {
  constructor(private readonly deps: EngineDeps) {}

  /** The latest run: the active one, or the one that ended last. */
  async latestRun(): Promise<RunView | null> {
    return this.deps.rehearsal ? null : store.latestRun(this.deps.db.pool);
  }

  /** The audit trail, newest first. */
  async history(limit: number): Promise<AuditEntry[]> {
    return this.deps.rehearsal ? [] : store.recentAudit(this.deps.db.pool, limit);
  }

  async request(id: number): Promise<RequestView | null> {
    return this.deps.rehearsal ? null : store.requestById(this.deps.db.pool, id);
  }

  private async pendingRequest(): Promise<RequestView | null> {
    return this.deps.rehearsal ? null : store.pendingRequest(this.deps.db.pool);
  }

  /** The cost baseline a run's red line was judged against (alerts name it). */
  runBaseline(runId: number): Promise<number | null> {
    return store.runBaseline(this.deps.db.pool, runId);
  }

  /** The app's health endpoint (never throws): the process's one reading of this evaluation interval (deps.ts). */
  health(): Promise<HealthReading> {
    return healthReading(this.deps);
  }

  /** The database answers within 2 s: the one probe behind every GET /healthz. */
  databaseUp(): Promise<boolean> {
    const probe = this.deps.db.pool.query('SELECT 1').then(
      () => true,
      () => false,
    );
    const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2_000).unref());
    return Promise.race([probe, timeout]);
  }

  async gauges(): Promise<RolloutGauges> {
    const { db } = this.deps;
    const [run, outbox, health] = await Promise.all([
      this.latestRun(),
      store.outboxBacklog(db.pool),
      healthReading(this.deps).catch((): HealthReading => ({ kind: 'not_configured' })),
    ]);
    const plan = await this.deps.plans.follow(db.pool, run);
    const [flagRow, guard] = await Promise.all([
      store.readFlagRow(db.pool, plan),
      run && isActiveStage(plan, run.state) ? store.readGuardState(db.pool, run.id) : null,
    ]);
    return { run, flag: readFlag(plan, flagRow), health, guard, outbox, plan };
  }

  /**
   * Everything `status` shows. With preferGuard (the live checklist, every evaluateEvery), the red
   * lines come from the guard's evaluation and the traffic split from the snapshot it was made
   * from, when both are fresh: a refresh reads no metrics at all. Otherwise every window comes
   * from the process's per-minute cache (reading only the new rows).
   */
  async status(opts: { preferGuard?: boolean } = {}): Promise<StatusView> {
    const { db } = this.deps;
    const now = this.deps.now();
    const [run, pending, health] = await Promise.all([this.latestRun(), this.pendingRequest(), healthReading(this.deps)]);
    const plan = await this.deps.plans.follow(db.pool, run);
    const flagRow = await store.readFlagRow(db.pool, plan);
    const guard = run ? await store.readGuardState(db.pool, run.id) : null;
    const guardFresh =
      !!guard && !!run && isActiveStage(plan, run.state) && now.getTime() - guard.evaluatedAt.getTime() <= 2 * plan.evaluateEveryMs;
    let lines: LineEvaluation[];
    let split = { total: 0, shares: {}, counts: {} } as ReturnType<typeof trafficSplit>;
    let metricsError: string | null = null;
    try {
      const cache = metricWindows(this.deps);
      const latest = cache.latest;
      const fresh = (at: Date) => now.getTime() - at.getTime() <= 2 * plan.evaluateEveryMs;
      if (opts.preferGuard && guardFresh && latest && fresh(latest.at) && latest.routes.some((r) => r.windowMs === plan.trafficWindowMs)) {
        lines = guard.evaluations;
        split = trafficSplit(routeWindow(latest, plan.trafficWindowMs), plan.from, plan.to);
      } else {
        const snapshot = await readSnapshot(db.metricsPool, plan, now, [plan.trafficWindowMs], cache);
        lines = judgeLines(
          plan,
          snapshot,
          evaluateRedLines(plan, snapshot, run?.baselineCost ?? plan.baselineCostPerImage),
          cache.judgeInputs(),
          run?.baselineVouchers ?? null,
        );
        split = trafficSplit(routeWindow(snapshot, plan.trafficWindowMs), plan.from, plan.to);
      }
    } catch (err) {
      if (isUnavailable(err) && db.metricsPool === db.pool) throw err;
      metricsError = describeError(err);
      lines = errorEvaluations(plan, metricsError);
    }
    return buildStatus({
      plan,
      now,
      run,
      flag: readFlag(plan, flagRow),
      health,
      lines,
      clocks: guard?.clocks.lines ?? {},
      guardEvaluatedAt: guard?.evaluatedAt ?? null,
      split,
      pending,
      metricsError,
      verdicts: guard?.clocks.judge?.verdicts ?? null,
    });
  }
}
