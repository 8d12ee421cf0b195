import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import seed from '../../src/plan/default-plan.json' with { type: 'json' };
import { openDatabase } from '../../src/db/database.ts';
import { alice, engine, planWith } from '../support/engine.ts';
import { one, scratchDatabase, type Scratch } from './harness.ts';

// The break-glass CLI works when everything else is on fire: it needs only DATABASE_URL, never
// migrates, and acts on the plan stored with the run, not on the plan file of whoever runs it.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let db: Scratch;
afterEach(() => db?.close());

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/rollout.mjs', ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const migrations = async () => (await db.pool.query('SELECT name FROM rollout.migrations ORDER BY name')).rows.map((r) => r.name);

describe('npx rollout, break-glass', () => {
  it("rolls back with only DATABASE_URL as the least-privilege role, on the run's own plan, without migrating", async () => {
    db = await scratchDatabase();
    // The bot ran with ROLLOUT_CREATE_INDEX=false: the index migration is not done, and the CLI must not try it.
    await db.pool.query('DROP INDEX IF EXISTS analytics_logs_event_type_created_at_idx');
    await db.pool.query(`DELETE FROM rollout.migrations WHERE name LIKE '%analytics_index%'`);
    const bot = await openDatabase({ databaseUrl: db.url });
    const { service } = engine(bot, { plan: planWith({ approvals: 0 }) });
    expect((await service.handle('d1', alice)).outcome.kind).toBe('stage_started');
    await bot.close();
    const before = await migrations();

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
    expect(await migrations()).toEqual(before);
    expect(await one(db.pool, `SELECT to_regclass('analytics_logs_event_type_created_at_idx') AS idx`)).toEqual({ idx: null });
    const audit = await one(db.pool, `SELECT via, os_user, host FROM rollout.audit WHERE action = 'rollback'`);
    expect(audit).toMatchObject({ via: 'cli' });
    expect(audit!.os_user).toBeTruthy();
    expect(audit!.host).toBeTruthy();
  });

  it('says clearly that the schema is missing or older, and changes nothing', async () => {
    db = await scratchDatabase();
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
