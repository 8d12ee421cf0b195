import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A migrated PGlite data folder (a tarball from dumpDataDir) every test database on PGlite starts from. */
    pgliteTemplate: string;
  }
}

const KEY = Symbol.for('rollout.test.pgliteTemplate');
const shared = globalThis as { [KEY]?: { path: Promise<string>; users: number } };

/**
 * Once per run: one PGlite, migrated as openTestDatabase migrates, dumped to a file. Each test
 * file's database is loaded from it (test/support/db.ts) instead of running initdb and the
 * migrations again: about half the CPU of a fresh PGlite, per file. Every project that lists this
 * setup (pglite, listeners, demo) gets the same file: vitest runs a setup once per project, and
 * making the template costs about 7 CPU-s before any test starts.
 */
export default async function setup(project: TestProject) {
  const made = (shared[KEY] ??= { path: makeTemplate(), users: 0 });
  made.users++;
  project.provide('pgliteTemplate', await made.path);
  return async () => {
    if (--made.users > 0) return;
    delete shared[KEY];
    rmSync(await made.path, { force: true });
  };
}

async function makeTemplate(): Promise<string> {
  const db = await openDatabase({ dataDir: null });
  await migrate(db.pool, { createAnalyticsIndex: true });
  const dump = await db.lite!.dumpDataDir('none');
  await db.close();
  const path = join(tmpdir(), `rollout-pglite-template-${process.pid}-${randomBytes(4).toString('hex')}.tar`);
  writeFileSync(path, Buffer.from(await dump.arrayBuffer()));
  return path;
}
