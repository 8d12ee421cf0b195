import { basename } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The real-postgres files that mostly wait (on spawned bots, on their evaluateEvery, on outages,
 * on the server building indexes), longest first, as measured on a shared 2-core machine. A clean CI clone has no timing cache, and
 * vitest's own order (project by project, alphabetically) started these last, so the run ended
 * with one long file after another on idle cores. A file not listed is placed after these.
 */
const WAIT_BOUND_LONGEST_FIRST = [
  'replica-outages',
  'partitioned',
  'restarts',
  'replicas',
  'plan-per-run',
  'outages',
  'handover',
  'leadership',
  'break-glass',
  'partition-pruning',
  'rolling-windows',
  'least-privilege',
];

const isWaitBound = (spec: TestSpecification) => spec.project.name === 'real-postgres';

/** CPU-bound files queued after each wait-bound one while those are being started. */
const CPU_PER_WAIT = 2;

/**
 * Starts the wait-bound files first, each followed by two CPU-bound ones, so the cores compute
 * while those wait; then the rest, in vitest's own order (project by project, longest first by
 * its timing cache when it has one, else larger files first). Two, not one: a worker of a project
 * that does not isolate (unit, listeners, pglite, postgres) is reused only when the next file in
 * the queue is of the same project, so CPU-bound files are kept in runs.
 */
export class WaitBoundFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const i = WAIT_BOUND_LONGEST_FIRST.indexOf(basename(spec.moduleId, '.test.ts'));
      return i === -1 ? WAIT_BOUND_LONGEST_FIRST.length : i;
    };
    const waiting = sorted.filter(isWaitBound).sort((a, b) => rank(a) - rank(b));
    const computing = sorted.filter((s) => !isWaitBound(s));
    return [...waiting.flatMap((w) => [w, ...computing.splice(0, CPU_PER_WAIT)]), ...computing];
  }
}
