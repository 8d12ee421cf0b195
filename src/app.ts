import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { loadPlan, type Config } from './config.ts';
import { parsePlan, PlanError, type Plan } from './plan/plan.ts';
import { openDatabase, redactUrl, type Database } from './db/database.ts';
import { DataDirBusyError } from './db/pglite.ts';
import { migrate, MigrationError, schemaProblem } from './db/migrate.ts';
import * as store from './db/store.ts';
import { adminList } from './engine/access.ts';
import { describeError } from './engine/errors.ts';
import { advisoryLeader, assertSessionConnections, soleLeader, TransactionPoolerError } from './engine/leader.ts';
import { Scheduler } from './engine/scheduler.ts';
import { RolloutService } from './engine/service.ts';
import { healthEndpoint } from './adapters/health-endpoint.ts';
import { chartPng } from './adapters/chart-png.ts';
import type { EventSink, HealthSource } from './engine/ports.ts';
import { consoleSink, startConsole } from './adapters/console.ts';
import type { Logger } from './log.ts';
import { rolloutMetrics, type RolloutMetrics } from './adapters/metrics.ts';
import { startMetricsServer } from './adapters/metrics-server.ts';

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
}

/** Opens the database, migrates, and wires the engine; front ends attach to what it returns. */
export async function openEngine(config: Config, opts: EngineOptions) {
  let plan = opts.breakGlass ? null : loadPlan(config.planPath);
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
    await Promise.all([db.pool.query('SELECT 1'), db.url && !opts.breakGlass ? assertSessionConnections(db.url) : null]);
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
      await migrate(db.pool, {
        createAnalyticsIndex: config.createAnalyticsIndex,
        onWait: () => opts.log.info('migrations: another replica is migrating; waiting for it'),
        log: opts.log,
      });
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

/** The real product without Slack: engine, guard, reports, outbox, and a console. */
export async function startConsoleBot(config: Config, opts: StartOptions): Promise<Bot> {
  const { plan, db, service } = await openEngine(config, opts);
  const output = opts.output ?? process.stdout;
  const sink: EventSink = consoleSink(() => service.plan, output);
  const metrics = rolloutMetrics({ service, isLeader: () => scheduler.isLeader });
  const scheduler: Scheduler = new Scheduler({
    service,
    sink,
    leader: db.kind === 'postgres' ? advisoryLeader(db.url!) : soleLeader(),
    log: opts.log,
    observer: metrics,
  });
  let server: Awaited<ReturnType<typeof startMetricsServer>> | null = null;
  if (config.metricsPort !== null) {
    try {
      server = await startMetricsServer(metrics, config.metricsPort, () => service.reads.databaseUp());
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
