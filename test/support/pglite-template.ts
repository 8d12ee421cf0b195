import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /**
     * Where the migrated PGlite data folder (a tarball from dumpDataDir) every test database on
     * PGlite starts from is being written; templateReady() waits for it.
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
  const made = makeTemplate(path).catch((err: Error) => writeFileSync(failedMark(path), err.stack ?? String(err)));
  project.provide('pgliteTemplate', path);
  return async () => {
    await made;
    rmSync(path, { force: true });
    rmSync(failedMark(path), { force: true });
  };
}

const failedMark = (path: string) => `${path}.failed`;

async function makeTemplate(path: string): Promise<void> {
  const db = await openDatabase({ dataDir: null });
  await migrate(db.pool, { createAnalyticsIndex: true });
  const dump = await db.lite!.dumpDataDir('none');
  await db.close();
  // Written whole, then renamed: a reader never sees half of it.
  writeFileSync(`${path}.tmp`, Buffer.from(await dump.arrayBuffer()));
  renameSync(`${path}.tmp`, path);
}

/** Once the template is written (or making it failed: then why). */
export async function templateReady(path: string, timeoutMs = 120_000): Promise<void> {
  const started = Date.now();
  while (!existsSync(path)) {
    if (existsSync(failedMark(path)))
      throw new Error(`the PGlite test template could not be made:\n${readFileSync(failedMark(path), 'utf8')}`);
    if (Date.now() - started > timeoutMs) throw new Error(`the PGlite test template: not written after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
