import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BotProcess, compiledBuild } from '../support/bot-process.ts';
import { scratchDatabase, type Scratch } from './harness.ts';

// Every real-Postgres test runs the bot as the role of sql/roles.sql; these show what it cannot do.
let db: Scratch;
let bot: pg.Pool;
beforeAll(async () => {
  db = await scratchDatabase();
  bot = new pg.Pool({ connectionString: db.url, max: 1 });
  await db.pool.query(`INSERT INTO feature_flags (flag_key, flag_value, flag_value_text) VALUES ('OTHER_FLAG', true, 'x')`);
});
afterAll(async () => {
  await bot.end();
  await db.close();
});

const denied = (sql: string) =>
  expect(bot.query(sql)).rejects.toThrow(/permission denied|must be owner|not visible through view|violates check option/);

describe('the least-privilege role', () => {
  it("is who the bot is in the tests, and sees only the plan's flag row", async () => {
    expect((await bot.query('SELECT current_user AS u')).rows[0].u).toBe('rollout_bot');
    expect((await bot.query('SELECT flag_key FROM feature_flags')).rows).toEqual([]);
    await bot.query(
      `INSERT INTO feature_flags (flag_key, flag_value, flag_value_text, description) VALUES ('GEN_PROVIDER_WEIGHTS', false, '{"fal":1.0,"runware":0.0}', 'x')`,
    );
    expect((await bot.query('SELECT flag_key FROM feature_flags')).rows).toEqual([{ flag_key: 'GEN_PROVIDER_WEIGHTS' }]);
  });

  it.each([
    [
      'write another flag through the view',
      `INSERT INTO feature_flags (flag_key, flag_value) VALUES ('OTHER_FLAG', false) ON CONFLICT (flag_key) DO UPDATE SET flag_value = false`,
    ],
    ['touch the app table directly', `UPDATE public.feature_flags SET flag_value = false`],
    ['delete the flag', `DELETE FROM feature_flags`],
    ['write analytics', `INSERT INTO analytics_logs (event_type) VALUES ('x')`],
    ['delete analytics', `DELETE FROM analytics_logs`],
    ["alter the app's tables", `ALTER TABLE analytics_logs ADD COLUMN x int`],
    ['create objects outside its schema', `CREATE TABLE public.x (id int)`],
  ])('cannot %s', async (_what, sql) => {
    await denied(sql);
  });

  it('never prints the database password or a token, even when it cannot reach the database', async () => {
    const secretUrl = 'postgres://rollout_bot:s3cr3t-Pa55@127.0.0.1:1/nowhere';
    // The bot waits for its database (it never exits for want of one) and says why at every try.
    const b = await BotProcess.start({ DATABASE_URL: secretUrl }, /cannot reach the database[\s\S]*cannot reach the database/);
    await b.kill();
    expect(b.output).not.toContain('s3cr3t-Pa55');
    // The break-glass CLI fails at once, naming the database without its password.
    await compiledBuild(); // bin/rollout.mjs runs dist/cli/main.js
    const cli = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['bin/rollout.mjs', 'status'], {
        cwd: fileURLToPath(new URL('../../', import.meta.url)),
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: secretUrl },
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.stdout.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('cannot open postgres://rollout_bot:***@127.0.0.1:1/nowhere');
    expect(cli.stderr).not.toContain('s3cr3t-Pa55');
  });
});
