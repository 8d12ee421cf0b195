import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate, readSqlFile } from '../../src/db/migrate.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabase: string;
  }
}

export const BOT_ROLE = 'rollout_bot';

export const withUser = (url: string, user: string, database?: string) => {
  const u = new URL(url);
  u.username = user;
  u.password = '';
  if (database) u.pathname = `/${database}`;
  return u.toString();
};

/** A file of sql/ run as a DBA runs it: with psql (roles.sql uses psql's \ir and \gexec). */
export function runPsqlFile(url: string, file: string, vars: Record<string, string> = {}): Promise<string> {
  const args = ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', ...Object.entries(vars).flatMap(([k, v]) => ['-v', `${k}=${v}`])];
  const path = fileURLToPath(new URL(`../../sql/${file}`, import.meta.url));
  return new Promise((resolve, reject) =>
    execFile('psql', [...args, '-d', url, '-f', path], (err, stdout, stderr) =>
      err ? reject(new Error(`psql -f sql/${file} failed: ${stderr || err.message}`)) : resolve(stdout),
    ),
  );
}

/**
 * Once per run on real Postgres: a template database shaped like production — the app's tables
 * created by their owner, sql/roles.sql applied, the bot's schema migrated by the least-privilege
 * role. Every test database is a copy of it, and the bot in every test connects as that role.
 */
export default async function setup(project: TestProject) {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) return;
  // Both projects on real Postgres list this setup and vitest runs it once for each, one after the
  // other before any test: they share one template (making it is ~1.5 s of the run's start).
  const made = (shared[KEY] ??= { name: makeTemplate(base), users: 0 });
  made.users++;
  project.provide('templateDatabase', await made.name);
  return async () => {
    if (--made.users > 0) return;
    delete shared[KEY];
    await dropAll(base, await made.name);
  };
}

const KEY = Symbol.for('rollout.test.templateDatabase');
const shared = globalThis as { [KEY]?: { name: Promise<string>; users: number } };

async function makeTemplate(base: string): Promise<string> {
  const name = `rollout_tpl_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();

  const ownerUrl = withUser(base, new URL(base).username || 'postgres', name);
  const owner = new pg.Client({ connectionString: ownerUrl });
  await owner.connect();
  await owner.query(readSqlFile('001_app_tables.sql'));
  await owner.end();
  await runPsqlFile(ownerUrl, 'roles.sql');

  const bot = new pg.Pool({ connectionString: withUser(base, BOT_ROLE, name), max: 1 });
  await migrate(bot, { createAnalyticsIndex: true });
  await bot.end();
  return name;
}

async function dropAll(base: string, name: string): Promise<void> {
  const c = new pg.Client({ connectionString: base });
  await c.connect();
  // With the template, the copies the worker threads (this process, by pid) kept for their next
  // file when the run ended (test/support/db.ts, lendScratch).
  const { rows } = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, [
    `rollout_test_${process.pid}_`,
  ]);
  for (const db of [name, ...rows.map((r) => r.datname)]) await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await c.end();
}
