import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { type Outcome, reportOutcome } from './background.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /**
     * dist/ is being built by this run: the file that says when it is done and how it went. Child
     * processes run dist/ once it is (test/support/bot-process.ts, compiledBuild).
     */
    compiledBot: string;
  }
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The real-postgres project starts the bot as production does, `node dist/main.js` and the
 * `rollout` bin; so it builds dist/ first, exactly as `npm ci` does (`npm run build`,
 * incremental), and a stale build can never pass or fail a test. In the background: vitest runs
 * the global setups one after another before any test, so a build awaited here kept both cores
 * waiting on one tsc (6-7 CPU-s); the files that do not spawn the bot start meanwhile.
 */
export default function build(project: TestProject) {
  const status = join(mkdtempSync(join(tmpdir(), 'rollout-build-')), 'status.json');
  const report = (outcome: Outcome) => reportOutcome(status, outcome);
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const built = upToDate()
    ? Promise.resolve(report({ ok: true }))
    : new Promise<void>((resolve) =>
        execFile(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT }, (err, stdout, stderr) => {
          report(err ? { ok: false, output: `${stdout}${stderr}` } : { ok: true });
          resolve();
        }),
      );
  project.provide('compiledBot', status);
  return async () => {
    await built;
    rmSync(dirname(status), { recursive: true, force: true });
  };
}

/**
 * dist/ was built after every source and compiler setting last changed (as right after `npm ci`):
 * tsc would only confirm it, ~4 CPU-s of reading and hashing every file. tsc rewrites its
 * build info whenever it emits.
 */
function upToDate(): boolean {
  const builtAt = mtime(join(ROOT, 'dist/.tsbuildinfo'));
  // Folders too: one changes when a file in it is added, renamed or removed.
  const inputs = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json', 'src'].map((f) => join(ROOT, f));
  for (const entry of readdirSync(join(ROOT, 'src'), { recursive: true, withFileTypes: true }))
    inputs.push(join(entry.parentPath, entry.name));
  return builtAt > 0 && inputs.every((f) => mtime(f) <= builtAt);
}

const mtime = (path: string) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
};
