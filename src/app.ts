import type { Readable, Writable } from 'node:stream';
import type { Config } from './config.ts';
import { loadPlan, type Plan } from './plan/plan.ts';
import { openDatabase, redactUrl, type Database } from './db/database.ts';
import { DataDirBusyError } from './db/pglite.ts';
import { migrate } from './db/migrate.ts';
import { adminList } from './engine/access.ts';
import { describeError } from './engine/errors.ts';
import { advisoryLeader, soleLeader } from './engine/leader.ts';
import type { EventSink } from './engine/outbox.ts';
import { Scheduler } from './engine/scheduler.ts';
import { RolloutService } from './engine/service.ts';
import { healthEndpoint, type HealthSource } from './adapters/health-endpoint.ts';
import { consoleSink, startConsole } from './adapters/console.ts';
import type { Logger } from './log.ts';

export interface Bot {
  plan: Plan;
  db: Database;
  service: RolloutService;
  scheduler: Scheduler;
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

/** Opens the database, migrates, and wires the engine; front ends attach to what it returns. */
export async function openEngine(config: Config, opts: Pick<StartOptions, 'log' | 'now' | 'health'>) {
  const plan = loadPlan(config.planPath);
  let db: Database;
  try {
    db = await openDatabase({ databaseUrl: config.databaseUrl, metricsDatabaseUrl: config.metricsDatabaseUrl, dataDir: config.dataDir });
    await db.pool.query('SELECT 1');
  } catch (err) {
    if (err instanceof DataDirBusyError) throw err;
    const where = config.databaseUrl ? redactUrl(config.databaseUrl) : `the embedded database in ${config.dataDir}`;
    throw new StartupError(`cannot open ${where}: ${describeError(err)}. Check DATABASE_URL and that Postgres is running.`);
  }
  try {
    await migrate(db.pool, { createAnalyticsIndex: config.createAnalyticsIndex });
  } catch (err) {
    await db.close();
    throw new StartupError(`${describeError(err)}. The bot needs to create its schema "rollout" (see sql/roles.sql).`);
  }
  const service = new RolloutService({
    db, plan, now: opts.now ?? (() => new Date()), access: adminList(config.admins), health: opts.health ?? healthEndpoint(plan, config.healthUrl),
  });
  return { plan, db, service };
}

/** The real product without Slack: engine, guard, reports, outbox, and a console. */
export async function startConsoleBot(config: Config, opts: StartOptions): Promise<Bot> {
  const { plan, db, service } = await openEngine(config, opts);
  const output = opts.output ?? process.stdout;
  const sink: EventSink = consoleSink(plan, output);
  const scheduler = new Scheduler({ service, sink, leader: db.kind === 'postgres' ? advisoryLeader(db.url!) : soleLeader(), log: opts.log });
  output.write(`rollout-bot on ${db.description}; plan: ${config.planPath ?? 'built-in (the seed plan)'}; ${service.deps.access.describe()}.\n`);
  scheduler.start();
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      await scheduler.stop();
      await db.close();
    })());
  startConsole({ service, input: opts.input ?? process.stdin, output, localUser: config.localUser, afterCommand: () => scheduler.flush(), onQuit: () => void stop().then(() => process.exit(0)) });
  return { plan, db, service, scheduler, stop };
}
