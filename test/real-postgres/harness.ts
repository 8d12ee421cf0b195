import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestContext } from 'vitest';
import seed from '../../src/plan/default-plan.json' with { type: 'json' };
import { createScratchDatabase } from '../support/db.ts';

/** fastPlanFile's red lines: latency and failures on a seconds scale, cost and regenerations never in a test's time. */
const FAST_RED_LINES = {
  p95LatencyMs: { threshold: 8000, window: '30s', for: '15s' },
  failureRatePercent: { threshold: 2, window: '30s', for: '15s' },
  costPerImageRatio: { threshold: 1.2, window: '1h', for: '10m' },
  regenerateRatePercent: { threshold: 5, window: '1h', for: '10m' },
};

/**
 * fastPlanFile with the failure red line held for `for` (default 15 s): shorter where a test only
 * waits for the rollback, and never needs to act between the first breach and the rollback.
 */
export const failuresHeldFor = (forDuration: string, threshold = 2) => ({
  redLines: { ...FAST_RED_LINES, failureRatePercent: { threshold, window: '30s', for: forDuration } },
});

/** A plan on a seconds scale, so a real process shows a whole breach in a test's time. */
export function fastPlanFile(overrides: Record<string, unknown> = {}): string {
  const plan = {
    ...seed,
    evaluateEvery: '5s',
    minSamples: 5,
    approvals: 1,
    reportCron: '*/5 * * * * *',
    baselineCostPerImage: 0.005,
    redLines: FAST_RED_LINES,
    ...overrides,
  };
  const path = join(mkdtempSync(join(tmpdir(), 'rollout-plan-')), 'plan.json');
  writeFileSync(path, JSON.stringify(plan));
  return path;
}

/**
 * What a test undoes when it ends, last first, all of it even when one step fails (the first failure
 * is then the test's): per test, so the tests of a
 * file can run at once (describe.concurrent) while each waits on its own processes and clocks.
 */
export function cleanupOf({ onTestFinished }: Pick<TestContext, 'onTestFinished'>): (undo: () => Promise<unknown>) => void {
  const undo: (() => Promise<unknown>)[] = [];
  onTestFinished(async () => {
    let failed: unknown = null;
    for (const f of undo.splice(0).reverse()) await f().catch((err) => (failed ??= err));
    if (failed) throw failed;
  });
  return (f) => void undo.push(f);
}

export interface Scratch {
  /** For the bot: the least-privilege role. */
  url: string;
  /** The tables' owner (can build the analytics index). */
  ownerUrl: string;
  /** The app's and the test's side: the tables' owner. */
  pool: pg.Pool;
  close(): Promise<void>;
}

export async function scratchDatabase(): Promise<Scratch> {
  const { url, ownerUrl, drop } = await createScratchDatabase();
  const pool = new pg.Pool({ connectionString: ownerUrl, max: 4 });
  pool.on('error', () => {});
  return {
    url,
    ownerUrl,
    pool,
    async close() {
      await pool.end();
      await drop();
    },
  };
}

/** The app writing gen_route rows for Runware at the real current time, failing or not. */
export function trafficWriter(pool: pg.Pool) {
  let failing = false;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await pool
        .query(
          `INSERT INTO analytics_logs (event_type, event_data, created_at)
           SELECT 'gen_route', jsonb_build_object('provider', 'runware', 'latency_ms', 1200, 'error', CASE WHEN $1 THEN 'upstream 500' END, 'cost_per_image', 0.005), now()
           FROM generate_series(1, 5)`,
          [failing],
        )
        .catch(() => {});
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    fail(on: boolean) {
      failing = on;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

export async function one<T = Record<string, unknown>>(pool: pg.Pool, sql: string, params: unknown[] = []): Promise<T | undefined> {
  return (await pool.query(sql, params)).rows[0] as T | undefined;
}
