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
            // SIGKILLed processes, replicas and outages need a server several sessions share: real Postgres only.
            { test: { name: 'real-postgres', include: ['test/real-postgres/**/*.test.ts'], env: { TEST_DB_KIND: 'postgres' }, testTimeout: 120_000, hookTimeout: 60_000 } },
          ]
        : []),
    ],
  },
});
