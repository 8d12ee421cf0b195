import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** dist/ was built by this run: child processes run it (test/support/bot-process.ts). */
    compiledBot: boolean;
  }
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The real-postgres project starts the bot as production does, `node dist/main.js` and the
 * `rollout` bin; so it builds dist/ first, exactly as `npm ci` does (`npm run build`,
 * incremental), and a stale build can never pass or fail a test.
 */
export default async function build(project: TestProject) {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  await new Promise<void>((resolve, reject) =>
    execFile(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT }, (err, stdout, stderr) =>
      err ? reject(new Error(`npm run build failed:\n${stdout}${stderr}`)) : resolve(),
    ),
  );
  project.provide('compiledBot', true);
}
