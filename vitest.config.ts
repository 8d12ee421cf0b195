import { defineConfig } from 'vitest/config';
import { WaitBoundFirst } from './test/support/sequencer.ts';

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
    // cores keeps both cores busy. They start first, each followed by two files that compute
    // (test/support/sequencer.ts). Five: room for files that compute while several wait; more made
    // the last files, which all compute, run so many at once on two cores that the longest passed
    // their 30 s timeout (six did, on a loaded machine).
    maxWorkers: 5,
    sequence: { sequencer: WaitBoundFirst },
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], isolate: false } },
      // isolate: false: a worker keeps its modules and lends its PGlite to each file in turn (test/support/db.ts).
      // With the integration files, the listener tests (test/listeners: each Slack listener called as Bolt
      // calls it, Slack's servers intercepted by nock, the engine on PGlite): in a project of their own
      // their five files paid five more workers' imports and PGlite loads, most of their 30 CPU-s.
      {
        test: {
          name: 'pglite',
          // Worker threads, not processes: the same tests in 85 CPU-s instead of 102 (each fork paid its own
          // Node start and module graph; measured on the quiet 2-core machine).
          pool: 'threads',
          include: ['test/integration/**/*.test.ts', 'test/listeners/**/*.test.ts'],
          isolate: false,
          ...pglite,
          ...slow,
        },
      },
      // `npm run demo` end to end: it brings its own in-memory PGlite, whatever the environment
      // (loaded from the run's PGlite template, as the pglite files are).
      { test: { name: 'demo', include: ['test/demo/**/*.test.ts'], ...pglite, ...slow } },
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
