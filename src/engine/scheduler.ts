import { randomUUID } from 'node:crypto';
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../log.ts';
import { describeError, isUnavailable } from './errors.ts';
import { guardCycle } from './guard.ts';
import { warmChartBuckets } from './chart-warm.ts';
import { BackgroundLoop } from './loop.ts';
import type { Leadership } from './leader.ts';
import { deliverOutbox } from './outbox.ts';
import { OutageWatch, type ReplicaHealth, type ReplicaIdentity } from './outage-watch.ts';
import type { EngineObserver, EventSink, GuardResult, PeerLink } from './ports.ts';
import { reportCycle } from './reporter.ts';
import type { RolloutService } from './service.ts';

export interface SchedulerDeps {
  service: RolloutService;
  sink: EventSink;
  leader: Leadership;
  log: Logger;
  /** How often to drain the outbox when nothing kicks it. */
  outboxEveryMs?: number;
  /** How often a standby tries the leader lock between evaluations (default 1 s). */
  standbyCheckMs?: number;
  /** Told of every guard cycle and database failure (Prometheus). */
  observer?: EngineObserver;
  /** Who this replica is to the others (default: a fresh id and no URL, so nobody can ask it). */
  replica?: ReplicaIdentity;
  /** The other replicas, asked when the database goes (default: none; a sole replica speaks for itself). */
  peers?: PeerLink;
}

/** Six-field cron for an interval, when cron can say it exactly. */
function cronFor(ms: number): string | null {
  const s = ms / 1000;
  if (Number.isInteger(s) && s < 60 && 60 % s === 0) return `*/${s} * * * * *`;
  const m = ms / 60_000;
  if (Number.isInteger(m) && m < 60 && 60 % m === 0) return `0 */${m} * * * *`;
  return null;
}

/**
 * Runs the guard every evaluateEvery, the reports on reportCron and the outbox continuously,
 * only while this replica is the leader. Every replica watches the database (OutageWatch): an
 * outage of the shared database is announced once across replicas, out of band, and its end once.
 */
export class Scheduler {
  /** The guard's and the reports' schedule (scheduleCadence), and the plan cadence it was made for. */
  private tasks: ScheduledTask[] = [];
  private cadenceTimer: NodeJS.Timeout | null = null;
  private cadence: string | null = null;
  private timers: NodeJS.Timeout[] = [];
  private started = false;
  private leading = false;
  /** What the last check that reached the database found: whether this replica led when an outage began. */
  private led = false;
  private lockTry: Promise<GuardResult | null | 'tried'> | null = null;
  private readonly watch: OutageWatch;
  private guardRunning = false;
  private stopping = false;
  /** Guard cycles, reports and tries of the lock under way: stop() waits for them before letting go. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly outbox: BackgroundLoop;
  /** The leader's chart buckets (chart-warm.ts), after each evaluation, beside the guard. */
  private readonly chartBuckets: BackgroundLoop;

  private readonly log: Logger;
  private readonly guardLog: Logger;

  constructor(private readonly deps: SchedulerDeps) {
    this.log = deps.log.child({ component: 'scheduler' });
    this.guardLog = deps.log.child({ component: 'guard' });
    this.outbox = new BackgroundLoop({ pass: () => this.drain(), onError: () => {} });
    this.chartBuckets = new BackgroundLoop({
      // One pass per evaluation: a start's backfill (newest 4 h first) spreads over a few minutes.
      pass: async () => {
        await warmChartBuckets(this.deps.service);
      },
      // Charts read raw meanwhile; an outage is the guard's to tell.
      onError: (err) => {
        if (!isUnavailable(err)) this.log.warn('chart buckets: warming failed; charts read their span raw', { error: describeError(err) });
      },
    });
    const { service } = deps;
    this.watch = new OutageWatch({
      replica: deps.replica ?? { id: randomUUID(), url: null, startedAt: service.deps.now() },
      db: service.deps.db,
      evaluateEveryMs: service.plan.evaluateEveryMs,
      now: service.deps.now,
      sink: deps.sink,
      peers: deps.peers ?? null,
      leading: () => this.led,
      log: deps.log,
    });
  }

  start(): void {
    this.started = true;
    this.scheduleCadence();
    // Through kick(), so only the leader drains.
    this.outbox.start();
    this.chartBuckets.start();
    this.timers.push(setInterval(() => this.kick(), this.deps.outboxEveryMs ?? 2_000));
    // A standby takes over within a second of the leader's end (one pg_try_advisory_lock a
    // second), not at its next evaluation; a leader that lets go on purpose wakes it sooner.
    this.timers.push(
      setInterval(() => {
        void this.checkLeadershipNow();
        // While the database is gone, every replica asks its peers about it once a second.
        if (this.watch.isDown && !this.stopping) void this.track(this.watch.round());
      }, this.deps.standbyCheckMs ?? 1_000),
    );
    this.deps.leader.watch?.(() => void this.checkLeadershipNow());
    void this.tick();
  }

  /**
   * The guard's and the reports' cadence, from the plan in force: a run that follows a stored plan
   * with another evaluateEvery or reportCron is evaluated and reported at its own pace.
   */
  private scheduleCadence(): void {
    const { plan } = this.deps.service;
    const cadence = `${plan.evaluateEveryMs} ${plan.reportCron}`;
    if (cadence === this.cadence) return;
    const first = this.cadence === null;
    this.cadence = cadence;
    void this.stopCadence();
    const expr = cronFor(plan.evaluateEveryMs);
    if (expr) this.tasks.push(cron.schedule(expr, () => this.tick(), { name: 'rollout-guard', noOverlap: true }));
    else this.cadenceTimer = setInterval(() => void this.tick(), plan.evaluateEveryMs);
    this.tasks.push(cron.schedule(plan.reportCron, () => this.report(), { name: 'rollout-report', noOverlap: true }));
    if (!first) this.log.info(`guard every ${plan.evaluateEveryMs / 1000}s, reports on "${plan.reportCron}" (the plan in force)`);
  }

  private async stopCadence(): Promise<void> {
    const tasks = this.tasks;
    this.tasks = [];
    if (this.cadenceTimer) clearInterval(this.cadenceTimer);
    this.cadenceTimer = null;
    for (const t of tasks) {
      await t.stop();
      await t.destroy();
    }
  }

  /**
   * Takes no new work, finishes the guard cycle, report and outbox pass under way (each is its own
   * transactions), then lets go of leadership at once so a standby leads within a second.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.stopCadence();
    this.timers.forEach(clearInterval);
    this.timers = [];
    await this.outbox.stop();
    await this.chartBuckets.stop();
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
    this.leading = false;
    await this.watch.leave();
    await this.deps.leader.release();
  }

  /**
   * A standby tries the lock now and, if it got it, evaluates at once. Quiet on failure: an
   * outage is reported by the evaluation tick, once.
   */
  checkLeadershipNow(): Promise<void> {
    if (this.leading || this.guardRunning || this.stopping) return Promise.resolve();
    const attempt = this.tryToLead();
    this.lockTry = attempt;
    // Tracked: a lock taken while stop() runs is released by it, never left behind.
    return this.track(attempt).then(() => {});
  }

  /** Resolves to the evaluation it ran when it took the lock, or `tried` when it did not evaluate. */
  private async tryToLead(): Promise<GuardResult | null | 'tried'> {
    this.guardRunning = true;
    let free = false;
    try {
      free = await this.deps.leader.check();
      this.led = free;
      await this.watch.reached();
    } catch (err) {
      // An outage goes to the watch at once (a standby notices it within a second); anything
      // else is said by the evaluation tick, once, not every second.
      if (isUnavailable(err)) await this.failed('leader check', err);
    } finally {
      this.guardRunning = false;
      this.lockTry = null;
    }
    return free ? this.tick() : 'tried';
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** This replica reached the database at its last try (false from the first failure until one succeeds). */
  get databaseReachable(): boolean {
    return !this.watch.isDown;
  }

  /** What GET /healthz tells people and the other replicas about this one and the database. */
  replicaHealth(databaseUp: boolean): ReplicaHealth {
    return this.watch.health(databaseUp);
  }

  /**
   * Proves leadership before an act only the leader may do: the cached flag is only as fresh as
   * the last tick, and two replicas must never deliver or report at once.
   */
  async confirmLeader(): Promise<boolean> {
    if (!this.leading) return false;
    if (await this.deps.leader.confirm()) return true;
    this.leading = false;
    this.log.warn('leader: the lock is no longer held; this replica stops acting until it leads again');
    return false;
  }

  /** One guard evaluation (if leader), then the outbox. Exposed for tests and the demo. */
  tick(): Promise<GuardResult | null> {
    if (this.stopping) return Promise.resolve(null);
    // A standby's try of the lock under way (it can take a connection timeout while the database
    // is silent) must not cost this evaluation: wait for it, and evaluate unless it just did.
    const trying = this.lockTry;
    if (trying) return this.track(trying.then((r) => (r === 'tried' ? this.tick() : r)));
    if (this.guardRunning) return Promise.resolve(null);
    return this.track(this.evaluate());
  }

  private async evaluate(): Promise<GuardResult | null> {
    this.guardRunning = true;
    try {
      const was = this.leading;
      this.leading = await this.deps.leader.check();
      this.led = this.leading;
      await this.watch.reached();
      if (this.leading !== was)
        this.log.info(this.leading ? 'leader: this replica runs the guard' : 'standby: another replica runs the guard');
      // Leader or standby: the plan in force follows the run, and a plan that differs is told once.
      await this.deps.service.followRun();
      // Only a started scheduler keeps a cadence: the demo and tests drive tick() themselves, and
      // a cron task made here would keep their process alive after they are done.
      if (this.started && !this.stopping) this.scheduleCadence();
      if (!this.leading) return null;
      const started = performance.now();
      const result = await guardCycle(this.deps.service).catch((err) => {
        this.deps.observer?.observeGuard(null, (performance.now() - started) / 1000);
        throw err;
      });
      this.deps.observer?.observeGuard(result, (performance.now() - started) / 1000);
      if (result.kind === 'rolled_back')
        this.guardLog.warn('auto-rollback', { redLine: result.line.name, value: result.line.value, threshold: result.line.threshold });
      if (result.kind === 'adopted_manual_rollback')
        this.guardLog.warn('the flag was set to the rollback weights by hand; the run is ended');
      await this.deps.service.expireRequests();
      this.kick();
      // Only a started scheduler warms charts: the demo and tests drive tick() themselves.
      if (this.started && !this.stopping) this.chartBuckets.kick();
      return result;
    } catch (err) {
      // Without the database the lock is unproven until a check succeeds again (and a standby may
      // take it); any other failure leaves the lock, just checked, where it is.
      if (isUnavailable(err)) this.leading = false;
      await this.failed('guard', err);
      if (this.watch.isDown) await this.watch.round();
      return null;
    } finally {
      this.guardRunning = false;
    }
  }

  report(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return this.track(
      (async () => {
        if (!(await this.confirmLeader())) return;
        try {
          await reportCycle(this.deps.service);
          this.kick();
        } catch (err) {
          await this.failed('report', err);
        }
      })(),
    );
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => {});
    return p;
  }

  /** Drains the outbox soon; calls while a drain runs coalesce into one more pass. */
  kick(): void {
    if (this.leading && !this.stopping) this.outbox.kick();
  }

  /** Waits for the outbox to be drained (tests, demo, shutdown). */
  async flush(): Promise<void> {
    this.kick();
    await this.outbox.settle();
  }

  private async drain(): Promise<void> {
    try {
      const r = await deliverOutbox(this.deps.service.deps.db.pool, this.deps.sink, this.deps.service.deps.now, {
        mayDeliver: () => this.confirmLeader(),
      });
      if (r.blocked && r.blocked.error !== 'waiting to retry')
        this.log.warn('outbox: delivery failed, will retry', { id: r.blocked.id, error: r.blocked.error, retryAt: r.blocked.retryAt });
    } catch (err) {
      await this.failed('outbox', err);
    }
  }

  /** An unreachable database goes to the watch (which decides who says what); anything else is logged. */
  private async failed(what: string, err: unknown): Promise<void> {
    this.deps.observer?.databaseError(what, err);
    if (isUnavailable(err)) {
      this.watch.lost(what, err);
      return;
    }
    this.log.error(`${what} failed`, { during: what, error: describeError(err), code: errorCode(err) });
  }
}

const errorCode = (err: unknown): string | undefined => {
  const c = (err as { code?: unknown } | null)?.code;
  return c === undefined ? undefined : String(c);
};
