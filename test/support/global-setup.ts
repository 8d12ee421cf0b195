import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate, readSqlFile, splitStatements } from '../../src/db/migrate.ts';

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

/**
 * Once per run on real Postgres: a template database shaped like production — the app's tables
 * created by their owner, sql/roles.sql applied, the bot's schema migrated by the least-privilege
 * role. Every test database is a copy of it, and the bot in every test connects as that role.
 */
export default async function setup(project: TestProject) {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) return;
  const name = `rollout_tpl_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();

  const owner = new pg.Client({ connectionString: withUser(base, new URL(base).username || 'postgres', name) });
  await owner.connect();
  await owner.query(readSqlFile('001_app_tables.sql'));
  for (const statement of splitStatements(readSqlFile('roles.sql'))) await owner.query(statement);
  await owner.end();

  const bot = new pg.Pool({ connectionString: withUser(base, BOT_ROLE, name), max: 1 });
  await migrate(bot, { createAnalyticsIndex: true });
  await bot.end();

  project.provide('templateDatabase', name);
  return async () => {
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  };
}
