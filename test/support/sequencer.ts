import { basename } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The real-postgres files, in the order they start, in three waves. They mostly wait (on spawned
 * bots, on their evaluateEvery, on outages, on the server building indexes), so each wave runs
 * beside files that compute. Longest first, as measured on a quiet 2-core machine; the last wave
 * holds the short ones, so that the run does not end on one long wait. A file not listed joins
 * the last wave.
 */
const WAVES: string[][] = [
  ['replica-outages', 'replicas', 'leadership'],
  ['restarts', 'outages', 'partitioned'],
  ['handover', 'plan-per-run', 'break-glass', 'partition-pruning', 'least-privilege', 'rolling-windows', 'connection-loss'],
];

const isWaitBound = (spec: TestSpecification) => spec.project.name === 'real-postgres';
const isDemo = (spec: TestSpecification) => /[/\\]test[/\\]demo[/\\]/.test(spec.moduleId);
const name = (spec: TestSpecification) => basename(spec.moduleId, '.test.ts');

/**
 * Queues: wave 1, the pglite files (the demo's first: the longest that compute), wave 2, the
 * postgres files, then wave 3 with two unit files after each of its files.
 *
 * Why at the projects' seams: a worker of a project that does not isolate (pglite, postgres,
 * unit: worker threads that keep their modules and their database) is reused only while the next
 * file in the queue is of the same project; otherwise vitest ends it, and the next file of that
 * project pays a new thread's imports and PGlite load (~4.5 CPU-s). A real-postgres file queued
 * between two pglite files ends one such worker; queued where the project changes, it ends one that
 * was ending anyway. A unit worker costs little to start again: the unit files fill the last
 * wave's slots. With four workers, a wave of four would leave nothing computing while it waits.
 *
 * A clean CI clone has no timing cache, and vitest's own order (project by project) started the
 * real-postgres files last, one long wait after another on idle cores.
 */
export class WavesAtSeams extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const waveOf = (s: TestSpecification) => {
      const i = WAVES.findIndex((names) => names.includes(name(s)));
      return i === -1 ? WAVES.length - 1 : i;
    };
    // Within a wave, in WAVES' order; a file not listed last.
    const rank = (s: TestSpecification) => {
      const k = WAVES[waveOf(s)].indexOf(name(s));
      return k === -1 ? Number.POSITIVE_INFINITY : k;
    };
    const wave = (i: number) => sorted.filter((s) => isWaitBound(s) && waveOf(s) === i).sort((a, b) => rank(a) - rank(b));
    const of = (project: string) => sorted.filter((s) => s.project.name === project);
    const pglite = of('pglite');
    const unit = of('unit');
    const queued = [
      ...wave(0),
      ...pglite.filter(isDemo),
      ...pglite.filter((s) => !isDemo(s)),
      ...wave(1),
      ...of('postgres'),
      ...wave(2).flatMap((w) => [w, ...unit.splice(0, 2)]),
      ...unit,
    ];
    return [...queued, ...sorted.filter((s) => !queued.includes(s))];
  }
}
