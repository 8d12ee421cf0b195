import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { advertisedUrl, loadPlan, type Config } from './config.ts';
import { backoffMs } from './core/backoff.ts';
import { parsePlan, PlanError, type Plan } from './plan/plan.ts';
import { openDatabase, redactUrl, type Database } from './db/database.ts';
import { DataDirBusyError } from './db/pglite.ts';
import { migrate, MigrationError, schemaProblem } from './db/migrate.ts';
import * as store from './db/store.ts';
import { adminList } from './engine/access.ts';
import { describeError, isUnavailable } from './engine/errors.ts';
import type { ReplicaIdentity } from './engine/outage-watch.ts';
import { advisoryLeader, leaderTimings, assertSessionConnections, soleLeader, TransactionPoolerError } from './engine/leader.ts';
import { Scheduler } from './engine/scheduler.ts';
import { RolloutService } from './engine/service.ts';
import { healthEndpoint } from './adapters/health-endpoint.ts';
import { chartPng } from './adapters/chart-png.ts';
import type { EventSink, HealthSource } from './engine/ports.ts';
import { consoleSink, startConsole } from './adapters/console.ts';
import type { Logger } from './log.ts';
import { rolloutMetrics, type RolloutMetrics } from './adapters/metrics.ts';
import { startMetricsServer, startWaitingServer } from './adapters/metrics-server.ts';
import { httpPeers } from './adapters/peers.ts';

export interface Bot {
  plan: Plan;
  db: Database;
  service: RolloutService;
  scheduler: Scheduler;
  metrics: RolloutMetrics;
  /** Where GET /metrics answers (console mode only when METRICS_PORT or PORT is set; Slack HTTP mode: PORT). */
  metricsPort: number | null;
  stop(): Promise<void>;
}

export class StartupError extends Error {}

export interface StartOptions {
  log: Logger;
  input?: Readable;
  output?: Writable;
  now?: () => Date;
  health?: HealthSource;
}

export interface EngineOptions extends Pick<StartOptions, 'log' | 'now' | 'health'> {
  /**
   * The break-glass CLI: never migrate (check the schema instead), and act on the plan stored
   * with the run in progress rather than on the plan file of whoever runs it.
   */
  breakGlass?: boolean;
  /**
   * With breakGlass: the command only reads (status, history, backtest, chart), so a database the
   * bot has never started on will do (a rehearsal): it reads analytics_logs and feature_flags only.
   */
  readOnly?: boolean;
  /** Told why each try to reach the database at start failed and how long until the next (the bot's /healthz says it). */
  onWaiting?: (reason: string, retryInMs: number) => void;
}

/**
 * A replica never exits for want of a database: at start it tries again on the core's retry
 * schedule, capped at evaluateEvery, so it is up within about one evaluateEvery of the
 * database's return (a process manager's own restart backoff, like CrashLoopBackOff's 5 minutes,
 * would be far longer). Anything but an unreachable database is thrown at once, as is every
 * failure of the break-glass CLI, which must fail fast.
 */
async function untilReachable<T>(
  attempt: () => Promise<T>,
  retry: { maxMs: number; log: Logger; onWaiting?: EngineOptions['onWaiting'] } | null,
): Promise<T> {
  for (let failures = 1; ; failures++) {
    try {
      return await attempt();
    } catch (err) {
      if (!retry || !isUnavailable(err)) throw err;
      const waitMs = backoffMs(failures, { minMs: 1_000, maxMs: retry.maxMs }, Math.random);
      const reason = `cannot reach the database: ${describeError(err)}`;
      retry.log.warn(`${reason}; trying again in ${(waitMs / 1000).toFixed(1)} s`, { attempt: failures });
      retry.onWaiting?.(reason, waitMs);
      await sleep(waitMs);
    }
  }
}

/** Opens the database, migrates, and wires the engine; front ends attach to what it returns. */
export async function openEngine(config: Config, opts: EngineOptions) {
  let plan = opts.breakGlass ? null : loadPlan(config.planPath);
  const retry = plan ? { maxMs: plan.evaluateEveryMs, log: opts.log, onWaiting: opts.onWaiting } : null;
  let rehearsal = false;
  if (opts.breakGlass && !config.databaseUrl && !existsSync(join(config.dataDir, 'pglite')))
    // Opening it would create it: the CLI reads a database, it never makes one.
    throw new StartupError(
      `there is no database here: DATABASE_URL is not set and there is no embedded database in ${config.dataDir}. Set DATABASE_URL (to rehearse, production's read replica will do), or start the bot once (npm start) to make the embedded one.`,
    );
  let db: Database;
  try {
    db = await openDatabase({ databaseUrl: config.databaseUrl, metricsDatabaseUrl: config.metricsDatabaseUrl, dataDir: config.dataDir });
    // Both only wait on the server: side by side, a start waits for one round of connections, not two.
    await untilReachable(
      () => Promise.all([db.pool.query('SELECT 1'), db.url && !opts.breakGlass ? assertSessionConnections(db.url) : null]),
      retry,
    );
  } catch (err) {
    if (err instanceof TransactionPoolerError) {
      await db!.close();
      throw new StartupError(err.message);
    }
    // Another process has the embedded database open: its message says which and what to do.
    if (err instanceof DataDirBusyError) throw new StartupError(err.message);
    const where = config.databaseUrl ? redactUrl(config.databaseUrl) : `the embedded database in ${config.dataDir}`;
    throw new StartupError(`cannot open ${where}: ${describeError(err)}. Check DATABASE_URL and that Postgres is running.`);
  }
  if (opts.breakGlass) {
    try {
      const problem = await schemaProblem(db.pool);
      rehearsal = !!problem?.absent && !!opts.readOnly;
      if (problem && !rehearsal)
        throw new StartupError(`${problem.message}. The CLI never migrates: start the bot once (npm start) to migrate, then try again.`);
      if (rehearsal)
        opts.log.warn(
          'no run yet here: this database has no rollout schema (the bot has never started on it); reading analytics_logs and feature_flags only, with the local plan',
        );
      else plan = await runPlan(db, config, opts.log);
    } catch (err) {
      await db.close();
      throw err instanceof StartupError || err instanceof PlanError
        ? err
        : new StartupError(`cannot read the rollout schema: ${describeError(err)}`);
    }
  } else {
    try {
      await untilReachable(
        () =>
          migrate(db.pool, {
            createAnalyticsIndex: config.createAnalyticsIndex,
            onWait: () => opts.log.info('migrations: another replica is migrating; waiting for it'),
            log: opts.log,
          }),
        retry,
      );
    } catch (err) {
      await db.close();
      // A MigrationError says what went wrong and what to do; anything else is the database going away mid-way.
      throw new StartupError(
        err instanceof MigrationError
          ? err.message
          : `migrating stopped: ${describeError(err)}. Nothing is half-applied (each migration is one transaction, and the analytics index resumes where it stopped): start again once the database answers.`,
      );
    }
  }
  plan ??= loadPlan(config.planPath);
  const service = new RolloutService({
    db,
    plan,
    now: opts.now ?? (() => new Date()),
    access: adminList(config.admins),
    health: opts.health ?? healthEndpoint(plan, config.healthUrl),
    charts: chartPng,
    rehearsal,
    log: opts.log,
  });
  // Says at start if this replica's plan differs from the run in progress's (which it then follows).
  if (!opts.breakGlass)
    await service.followRun().catch((err) => opts.log.warn(`could not read the plan of the run in progress: ${describeError(err)}`));
  return { plan, db, service };
}

/**
 * The plan of the run in progress (or the last one), as stored when it started; the local plan
 * file only when there is no stored one. A break-glass rollback must write what the running
 * rollout means by "rollback", whatever file is on this laptop.
 */
async function runPlan(db: Database, config: Config, log: Logger): Promise<Plan | null> {
  const run = await store.latestRunPlan(db.pool);
  if (!run?.plan) return null;
  try {
    const plan = parsePlan(run.plan, `the plan stored with rollout #${run.id}`);
    if (config.planPath) log.warn(`acting on the plan stored with rollout #${run.id}, not on ROLLOUT_PLAN (${config.planPath})`);
    return plan;
  } catch (err) {
    log.warn(`the plan stored with rollout #${run.id} no longer parses (${(err as Error).message}); using the local plan`);
    return null;
  }
}

/**
 * openEngine for a replica: while it waits for its database, its /healthz port (if any) answers
 * 503 with the reason, and the port is free again when it returns.
 */
export async function openReplicaEngine(config: Config, opts: EngineOptions, port: number | null) {
  let reason = 'connecting to the database';
  const waiting = port === null ? null : await startWaitingServer(port, () => reason).catch(() => null);
  try {
    return await openEngine(config, {
      ...opts,
      onWaiting: (why, retryInMs) => {
        reason = `${why}; trying again in ${(retryInMs / 1000).toFixed(1)} s`;
      },
    });
  } finally {
    await waiting?.close();
  }
}

/** Who this replica is to the others: an id unique per process, and its /healthz URL once it listens. */
export function replicaIdentity(startedAt: Date): ReplicaIdentity {
  return { id: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`, url: null, startedAt };
}

/** Sets the URL the other replicas ask this one at (ROLLOUT_ADVERTISE_URL, else this host's address). */
export function advertise(replica: ReplicaIdentity, config: Config, port: number): void {
  replica.url = advertisedUrl(config, port);
}

/** The real product without Slack: engine, guard, reports, outbox, and a console. */
export async function startConsoleBot(config: Config, opts: StartOptions): Promise<Bot> {
  const { plan, db, service } = await openReplicaEngine(config, opts, config.metricsPort);
  const output = opts.output ?? process.stdout;
  const sink: EventSink = consoleSink(() => service.plan, output);
  const metrics = rolloutMetrics({ service, isLeader: () => scheduler.isLeader, databaseReachable: () => scheduler.databaseReachable });
  const replica = replicaIdentity(service.deps.now());
  const scheduler: Scheduler = new Scheduler({
    service,
    sink,
    leader: db.kind === 'postgres' ? advisoryLeader(db.url!, leaderTimings(config.leaderTimeoutMs)) : soleLeader(),
    log: opts.log,
    observer: metrics,
    replica,
    peers: httpPeers(),
  });
  let server: Awaited<ReturnType<typeof startMetricsServer>> | null = null;
  if (config.metricsPort !== null) {
    try {
      server = await startMetricsServer(
        metrics,
        config.metricsPort,
        () => (scheduler.databaseReachable ? service.reads.databaseUp() : Promise.resolve(false)),
        () => ({}),
        (up) => scheduler.replicaHealth(up),
      );
      advertise(replica, config, server.port);
    } catch (err) {
      await db.close();
      throw new StartupError(
        `cannot serve /metrics on port ${config.metricsPort}: ${describeError(err)}. Free the port or set METRICS_PORT to another.`,
      );
    }
  }
  const served = server ? `; GET /metrics and /healthz on port ${server.port}` : '';
  output.write(
    `rollout-bot on ${db.description}; plan: ${config.planPath ?? 'built-in (the seed plan)'}; ${service.deps.access.describe()}${served}.\n`,
  );
  scheduler.start();
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      await server?.close();
      await scheduler.stop();
      await db.close();
    })());
  startConsole({
    service,
    input: opts.input ?? process.stdin,
    output,
    localUser: config.localUser,
    origin: config.origin,
    metrics,
    afterCommand: () => scheduler.flush(),
    onQuit: () => void stop().then(() => process.exit(0)),
  });
  return { plan, db, service, scheduler, metrics, metricsPort: server?.port ?? null, stop };
}
