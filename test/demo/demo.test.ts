import { describe } from 'vitest';
import type { FaultKind } from '../../src/demo/faults.ts';
import { demoRunner, itRollsBack, RUN_TIMEOUT_MS } from '../support/demo.ts';

/**
 * `npm run demo` at its default settings, once per fault that must end in an auto-rollback: the
 * real engine walks D1 → D2 and the red line made for the fault rolls it back, `for` after its
 * first breach. (cost and no-traffic are in demo-cost-no-traffic.test.ts: two files, so two workers run demo runs.)
 * In the pglite project only (vitest.config.ts): the demo always runs on its own in-memory PGlite
 * and never touches a real Postgres, so running them under the postgres project would only repeat them.
 */
describe('npm run demo', { timeout: RUN_TIMEOUT_MS }, () => {
  const demo = demoRunner();
  for (const fault of ['latency', 'errors', 'vouchers'] as FaultKind[]) itRollsBack(demo, fault);
});
