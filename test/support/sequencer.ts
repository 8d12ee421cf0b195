import { basename } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The real-postgres files that mostly wait (on spawned bots, on their evaluateEvery, on outages),
 * longest first, as measured on a quiet 2-core machine. A clean CI clone has no timing cache, and
 * vitest's own order (project by project, alphabetically) started these last, so the run ended
 * with one long file after another on idle cores. A file not listed is placed after these.
 */
const WAIT_BOUND_LONGEST_FIRST = [
  'replica-outages',
  'restarts',
  'replicas',
  'plan-per-run',
  'partitioned',
  'leadership',
  'outages',
  'handover',
  'break-glass',
  'partition-pruning',
  'rolling-windows',
  'least-privilege',
];

const isWaitBound = (spec: TestSpecification) => spec.project.name === 'real-postgres';

/**
 * Starts the wait-bound files first, each next to a CPU-bound one (the pglite and demo files), so
 * the cores are busy while they wait; then the rest. Files of a project that does not isolate
 * (unit, listeners, postgres) stay together, since vitest reuses a worker only for the next file
 * of the same project. Within each kind: longest first by vitest's timing cache when it has one.
 */
export class WaitBoundFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const name = basename(spec.moduleId, '.test.ts');
      const i = WAIT_BOUND_LONGEST_FIRST.indexOf(name);
      return i === -1 ? WAIT_BOUND_LONGEST_FIRST.length : i;
    };
    const waiting = sorted.filter(isWaitBound).sort((a, b) => rank(a) - rank(b));
    const isolated = sorted.filter((s) => !isWaitBound(s) && s.project.config.isolate);
    const shared = sorted.filter((s) => !isWaitBound(s) && !s.project.config.isolate);
    const head: TestSpecification[] = [];
    while (waiting.length) {
      head.push(waiting.shift()!);
      const next = isolated.shift();
      if (next) head.push(next);
    }
    return [...head, ...isolated, ...shared];
  }
}
