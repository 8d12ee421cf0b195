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

/**
 * Once per run: one PGlite, migrated as openTestDatabase migrates, dumped to a file. Each test
 * file's database is loaded from it (test/support/db.ts) instead of running initdb and the
 * migrations again: about half the CPU of a fresh PGlite, per file. The projects that use it
 * (pglite, listeners) share one: their global setups run in this process, so the first one
 * makes it and the last one to finish removes it.
 */
export default async function setup(project: TestProject) {
  const shared = ((globalThis as Record<symbol, unknown>)[Symbol.for('rollout.test.pglite-template')] ??= {
    path: makeTemplate(),
    users: 0,
  }) as { path: Promise<string>; users: number };
  shared.users++;
  project.provide('pgliteTemplate', await shared.path);
  return async () => {
    if (--shared.users === 0) rmSync(await shared.path, { force: true });
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
