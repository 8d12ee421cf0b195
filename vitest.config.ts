import { defineConfig } from 'vitest/config';
import { WavesAtSeams } from './test/support/sequencer.ts';

// unit: pure. pglite: the integration suite on the embedded database, always.
// With TEST_DATABASE_URL (CI sets it): the same integration suite on real Postgres, plus the
// tests only a shared server can show (SIGKILLed processes, replicas, outages). On real Postgres
// the bot connects as the least-privilege role of sql/roles.sql (see test/support/global-setup.ts).
const realPostgres = { env: { TEST_DB_KIND: 'postgres' }, globalSetup: ['test/support/global-setup.ts'] };
// Every test database on PGlite is loaded from one migrated template made per run (test/support/pglite-template.ts).
const pglite = { env: { TEST_DB_KIND: 'pglite' }, globalSetup: ['test/support/pglite-template.ts'] };
const slow = { testTimeout: 30_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    // The real-Postgres files mostly wait on child processes and the server: more workers than
    // cores keeps both cores busy. They start in three waves beside files that compute
    // (test/support/sequencer.ts). Four: each worker of a project that computes costs its thread's
    // imports and PGlite load (~4.5 CPU-s); with five the suite took ~45 CPU-s more for the same
    // tests. Six made the last files, which all compute, pass their 30 s timeout on a loaded machine.
    maxWorkers: 4,
    sequence: { sequencer: WavesAtSeams },
    projects: [
      // Threads: the unit files fill the last real-postgres wave's slots (sequencer.ts), a new worker each time.
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], isolate: false, pool: 'threads' } },
      // isolate: false: a worker keeps its modules and lends its PGlite to each file in turn (test/support/db.ts).
      // With the integration files, the listener tests (test/listeners: each Slack listener called as Bolt
      // calls it, Slack's servers intercepted by nock, the engine on PGlite): in a project of their own
      // their five files paid five more workers' imports and PGlite loads, most of their 30 CPU-s. And
      // `npm run demo` end to end (test/demo): it always runs on its own in-memory PGlite, so it is not
      // repeated on real Postgres; its own forks cost two more module graphs and PGlite loads.
      {
        test: {
          name: 'pglite',
          // Worker threads, not processes: the same tests in 85 CPU-s instead of 102 (each fork paid its own
          // Node start and module graph; measured on the quiet 2-core machine).
          pool: 'threads',
          include: ['test/integration/**/*.test.ts', 'test/listeners/**/*.test.ts', 'test/demo/**/*.test.ts'],
          isolate: false,
          ...pglite,
          ...slow,
        },
      },
      ...(process.env.TEST_DATABASE_URL
        ? [
            // One worker runs file after file without re-importing the engine for each (isolate: false):
            // the files share no module state (no mocks, no fake timers, no env changes; each opens its own database).
            {
              test: {
                name: 'postgres',
                include: ['test/integration/**/*.test.ts'],
                isolate: false,
                pool: 'threads',
                ...realPostgres,
                ...slow,
              },
            },
            {
              // Its processes run the compiled build, as production does; test/support/build.ts builds it first.
              test: {
                name: 'real-postgres',
                include: ['test/real-postgres/**/*.test.ts'],
                ...realPostgres,
                globalSetup: [...realPostgres.globalSetup, 'test/support/build.ts'],
                ...slow,
                testTimeout: 120_000,
              },
            },
          ]
        : []),
    ],
  },
});
