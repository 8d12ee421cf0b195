import { defineConfig } from 'vitest/config';

// The unit suite is pure. The integration suite runs on PGlite always, and again on real
// Postgres when TEST_DATABASE_URL is set (CI sets it): same tests, two databases.
const integration = (name: string, env: Record<string, string>) => ({
  test: { name, include: ['test/integration/**/*.test.ts'], env, testTimeout: 30_000, hookTimeout: 60_000 },
});

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      integration('pglite', { TEST_DB_KIND: 'pglite' }),
      ...(process.env.TEST_DATABASE_URL
        ? [
            integration('postgres', { TEST_DB_KIND: 'postgres' }),
            // Real bot processes (SIGKILL, restarts, replicas) need a database several processes share.
            { test: { name: 'processes', include: ['test/processes/**/*.test.ts'], env: { TEST_DB_KIND: 'postgres' }, testTimeout: 120_000, hookTimeout: 60_000 } },
          ]
        : []),
    ],
  },
});
