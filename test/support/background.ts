import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/**
 * How a global setup hands a job it runs in the background (the build of dist/, the PGlite
 * template) to the test workers: vitest runs the setups one after another before any test, so a
 * setup that awaited its job kept the run from starting. The setup writes the job's outcome to a
 * file once it ends; a worker that needs the result waits for that file.
 */
export interface Outcome {
  ok: boolean;
  /** Why it failed. */
  output?: string;
}

/** Written whole, then renamed: a reader never sees half of it. */
export function reportOutcome(status: string, outcome: Outcome): void {
  writeFileSync(`${status}.tmp`, JSON.stringify(outcome));
  renameSync(`${status}.tmp`, status);
}

/** Resolves once the job succeeded; throws its output when it failed, or when it has not ended in time. */
export async function awaitOutcome(status: string, job: string, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (!existsSync(status)) {
    if (Date.now() - started > timeoutMs) throw new Error(`${job}: not done after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const outcome: Outcome = JSON.parse(readFileSync(status, 'utf8'));
  if (!outcome.ok) throw new Error(`${job} failed:\n${outcome.output}`);
}
