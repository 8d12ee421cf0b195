import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { describe, it, type TestContext } from 'vitest';
import seed from '../../src/plan/default-plan.json' with { type: 'json' };
import { openDatabase } from '../../src/db/database.ts';
import { compiledBuild } from '../support/bot-process.ts';
import { alice, engine, planWith } from '../support/engine.ts';
import { cleanupOf, one, scratchDatabase, type Scratch } from './harness.ts';

// The break-glass CLI works when everything else is on fire: it needs only DATABASE_URL, never
// migrates, and acts on the plan stored with the run, not on the plan file of whoever runs it.
// Each test has its own database: they run at once.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function scratch(ctx: TestContext): Promise<Scratch> {
  const db = await scratchDatabase();
  cleanupOf(ctx)(() => db.close());
  return db;
}

async function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  await compiledBuild(); // bin/rollout.mjs runs dist/cli/main.js
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/rollout.mjs', ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const migrations = async (db: Scratch) =>
  (await db.pool.query('SELECT name FROM rollout.migrations ORDER BY name')).rows.map((r) => r.name);

describe.concurrent('npx rollout, break-glass', () => {
  it("rolls back with only DATABASE_URL as the least-privilege role, on the run's own plan, without migrating", async (ctx) => {
    const { expect } = ctx;
    const db = await scratch(ctx);
    // The bot ran with ROLLOUT_CREATE_INDEX=false: the index migration is not done, and the CLI must not try it.
    await db.pool.query('DROP INDEX IF EXISTS analytics_logs_event_type_created_at_idx');
    await db.pool.query(`DELETE FROM rollout.migrations WHERE name LIKE '%analytics_index%'`);
    const bot = await openDatabase({ databaseUrl: db.url });
    const { service } = engine(bot, { plan: planWith({ approvals: 0 }) });
    expect((await service.handle('d1', alice)).outcome.kind).toBe('stage_started');
    await bot.close();
    const before = await migrations(db);

    // The laptop's plan names another flag: acting on it would write the wrong row (and the role may not).
    const laptopPlan = join(mkdtempSync(join(tmpdir(), 'laptop-')), 'plan.json');
    writeFileSync(laptopPlan, JSON.stringify({ ...seed, flagKey: 'SOME_OTHER_FLAG' }));
    const r = await cli(['rollback', '--reason', 'Runware down, chat down'], { DATABASE_URL: db.url, ROLLOUT_PLAN: laptopPlan });
    expect(r.stderr).toContain('acting on the plan stored with rollout #1');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Rolled back');
    expect(await one(db.pool, `SELECT flag_value_text, description FROM feature_flags WHERE flag_key = 'GEN_PROVIDER_WEIGHTS'`)).toEqual({
      flag_value_text: '{"fal":1.0,"runware":0.0}',
      description: 'Provider weights: 100% FAL, 0% Runware (Manual Rollback)',
    });
    expect(await one(db.pool, `SELECT count(*)::int AS n FROM feature_flags WHERE flag_key = 'SOME_OTHER_FLAG'`)).toEqual({ n: 0 });
    expect(await migrations(db)).toEqual(before);
    expect(await one(db.pool, `SELECT to_regclass('analytics_logs_event_type_created_at_idx') AS idx`)).toEqual({ idx: null });
    const audit = await one(db.pool, `SELECT via, os_user, host FROM rollout.audit WHERE action = 'rollback'`);
    expect(audit).toMatchObject({ via: 'cli' });
    expect(audit!.os_user).toBeTruthy();
    expect(audit!.host).toBeTruthy();
  });

  it('says clearly that the schema is missing or older, and changes nothing', async (ctx) => {
    const { expect } = ctx;
    const db = await scratch(ctx);
    await db.pool.query(`DELETE FROM rollout.migrations WHERE name = '011_trust.sql'`);
    const older = await cli(['status'], { DATABASE_URL: db.url });
    expect(older.code).toBe(1);
    expect(older.stderr).toContain('the rollout schema is older than this version (missing 011_trust.sql)');
    expect(older.stderr).toContain('The CLI never migrates: start the bot once (npm start) to migrate');
    expect(await one(db.pool, `SELECT count(*)::int AS n FROM rollout.migrations WHERE name = '011_trust.sql'`)).toEqual({ n: 0 });

    await db.pool.query('DROP SCHEMA rollout CASCADE');
    const missing = await cli(['rollback'], { DATABASE_URL: db.url });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('the database has no rollout schema yet');
    expect(await one(db.pool, `SELECT to_regnamespace('rollout') AS ns`)).toEqual({ ns: null });
  });
});

// "Rehearse before you roll": the CLI pointed at production's read replica before the bot has
// ever run there. The read-only commands work with SELECT on the app's two tables and nothing else.
describe.concurrent('npx rollout, rehearsing on a database the bot has never started on', () => {
  it('answers help, status, history, backtest and chart as a SELECT-only role, creates nothing, and refuses to write', async (ctx) => {
    const { expect } = ctx;
    const db = await scratch(ctx);
    await db.pool.query('DROP SCHEMA rollout CASCADE');
    await db.pool.query(
      `INSERT INTO analytics_logs (event_type, event_data, created_at)
       SELECT 'gen_route', jsonb_build_object('provider', CASE WHEN i % 10 = 0 THEN 'runware' ELSE 'fal' END, 'latency_ms', 1200 + i % 700,
              'cost_per_image', 0.005), now() - (i || ' seconds')::interval
       FROM generate_series(1, 3000) AS i`,
    );
    await db.pool.query(
      `INSERT INTO feature_flags (flag_key, flag_value, flag_value_text) VALUES ('GEN_PROVIDER_WEIGHTS', true, '{"fal":0.9,"runware":0.1}')`,
    );
    const role = `rollout_reader_${process.pid}`;
    const owner = new URL(db.ownerUrl);
    // Roles belong to the server: made and dropped from the run's own database, never the scratch one (dropped WITH FORCE).
    const base = new pg.Pool({ connectionString: process.env.TEST_DATABASE_URL, max: 1 });
    const dbName = owner.pathname.slice(1);
    await base.query(`DROP ROLE IF EXISTS ${role}`);
    await base.query(`CREATE ROLE ${role} LOGIN`);
    try {
      await db.pool.query(`REVOKE ALL ON DATABASE ${dbName} FROM PUBLIC`);
      await db.pool.query(`GRANT CONNECT ON DATABASE ${dbName} TO ${role}`);
      await db.pool.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
      await db.pool.query(`GRANT SELECT ON analytics_logs, feature_flags TO ${role}`);
      const url = Object.assign(new URL(owner.toString()), { username: role }).toString();
      const objects = `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')`;
      const before = await one(db.pool, objects);
      const env = { DATABASE_URL: url };

      // Every command in its own process, all at once: none of them writes anything.
      const out = join(mkdtempSync(join(tmpdir(), 'rehearsal-')), 'red-lines.png');
      const [help, status, history, backtest, chart, ...refusals] = await Promise.all([
        // help needs no database at all, not even a reachable one.
        cli(['help'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }),
        cli(['status'], env),
        cli(['history'], env),
        cli(['backtest', '--since', '1h'], env),
        cli(['chart', '--since', '1h', '--out', out], env),
        ...[['d1'], ['rollback', '--reason', 'rehearsal']].map((write) => cli(write, env)),
      ]);
      expect(help).toMatchObject({ code: 0 });
      expect(help.stdout).toContain('backtest [24h|7d]');

      expect(status.stderr).toContain('no run yet here');
      expect(status).toMatchObject({ code: 0 });
      expect(status.stdout).toContain('FAL 90% / Runware 10%');
      expect(status.stdout).toMatch(/Traffic split \(10m\): .*n=\d{3,}/);

      expect(history).toMatchObject({ code: 0, stdout: 'No history yet.\n' });

      expect(backtest.code).toBe(0);
      expect(backtest.stdout).toMatch(/Read [1-9][\d,]* rows/);

      expect(chart.code).toBe(0);
      expect(chart.stdout).toContain(`Chart written to ${out}`);

      expect(refusals).toHaveLength(2);
      for (const refused of refusals) {
        expect(refused.code).toBe(1);
        expect(refused.stderr).toContain('the database has no rollout schema yet. The CLI never migrates');
      }
      expect(await one(db.pool, objects)).toEqual(before);
      expect(await one(db.pool, `SELECT to_regnamespace('rollout') AS ns`)).toEqual({ ns: null });
      expect(await one(db.pool, `SELECT flag_value_text FROM feature_flags`)).toEqual({ flag_value_text: '{"fal":0.9,"runware":0.1}' });
    } finally {
      await db.pool.query(`DROP OWNED BY ${role}`);
      await base.query(`DROP ROLE IF EXISTS ${role}`);
      await base.end();
    }
  });
});
