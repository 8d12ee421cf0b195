import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { awaitOutcome, reportOutcome } from './background.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /**
     * Where the migrated PGlite data folder (a tarball from dumpDataDir) every test database on
     * PGlite starts from is written, in the background; templateReady() waits for it.
     */
    pgliteTemplate: string;
  }
}

/**
 * Once per run: one PGlite, migrated as openTestDatabase migrates, dumped to a file. Each test
 * file's database is loaded from it (test/support/db.ts) instead of running initdb and the
 * migrations again: about half the CPU of a fresh PGlite, per file.
 *
 * In the background: vitest runs the global setups before any test, and making the template
 * (~5 CPU-s on one core) kept the other core idle while it did; the real-postgres files, which do
 * not need it, start meanwhile.
 */
export default function setup(project: TestProject) {
  const path = join(tmpdir(), `rollout-pglite-template-${process.pid}-${randomBytes(4).toString('hex')}.tar`);
  const made = makeTemplate(path).then(
    () => reportOutcome(statusOf(path), { ok: true }),
    (err: Error) => reportOutcome(statusOf(path), { ok: false, output: err.stack ?? String(err) }),
  );
  project.provide('pgliteTemplate', path);
  return async () => {
    await made;
    for (const file of [path, statusOf(path)]) rmSync(file, { force: true });
  };
}

const statusOf = (path: string) => `${path}.status`;

async function makeTemplate(path: string): Promise<void> {
  const db = await openDatabase({ dataDir: null });
  await migrate(db.pool, { createAnalyticsIndex: true });
  const dump = await db.lite!.dumpDataDir('none');
  await db.close();
  writeFileSync(path, Buffer.from(await dump.arrayBuffer()));
}

/** Once the template is written; throws why when making it failed. */
export const templateReady = (path: string, timeoutMs = 120_000): Promise<void> =>
  awaitOutcome(statusOf(path), 'the PGlite test template', timeoutMs);
