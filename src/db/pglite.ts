import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

/**
 * PGlite behind a real pg.Pool, so the embedded and the real database share one code path.
 * A Client subclass per connection: the documented `new pg.Pool(createPgConfig(lite))` hands
 * later queries the previous query's reply after the first error.
 */
export async function pglitePool(lite: PGlite): Promise<pg.Pool> {
  // Loaded only when the embedded database is used: the CLI on a real Postgres never pays for it.
  const { createPgConfig } = await import('@electric-sql/pglite/node-postgres');
  class LiteClient extends pg.Client {
    constructor() {
      super(createPgConfig(lite) as unknown as pg.ClientConfig);
    }
  }
  // PGlite is one session: a second connection would only queue behind the first.
  return new pg.Pool({ Client: LiteClient as unknown as typeof pg.Client, max: 1 });
}

export class DataDirBusyError extends Error {}

/**
 * Two processes on one PGlite folder silently lose committed rows, so the folder is
 * guarded by a lock file holding the owner's pid; a lock left by a dead process is taken over.
 */
function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'rollout-bot.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (pid && pid !== process.pid && isAlive(pid)) {
        throw new DataDirBusyError(
          `the embedded database in ${dir} is in use by another rollout-bot (pid ${pid}); stop that process, or point DATABASE_URL at a shared Postgres to run several`,
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new DataDirBusyError(`could not take the lock file ${path}; remove it if no rollout-bot is running`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function openPglite(dataDir: string | null): Promise<{ lite: PGlite; release: () => void }> {
  const release = dataDir ? lockDataDir(dataDir) : () => {};
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    const lite = dataDir ? await PGlite.create(join(dataDir, 'pglite')) : await PGlite.create();
    return { lite, release };
  } catch (err) {
    release();
    throw err;
  }
}
