import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoRunner, itRollsBack, RUN_TIMEOUT_MS } from '../support/demo.ts';

/** The other faults of `npm run demo` (see demo.test.ts); a second file, so both cores run demo runs. */
describe('npm run demo', { timeout: RUN_TIMEOUT_MS }, () => {
  const demo = demoRunner();
  itRollsBack(demo, 'cost');

  it('no-traffic: an alert, not a rollback; an admin rolls back by hand', async () => {
    const { result, text } = await demo('no-traffic');
    expect(result.outcome).toBe('manual_rollback');
    expect(result.line).toBeNull();
    expect(result.firstBreach).toEqual({});
    // Thin for longer than the longest `for` (10 min) after the 5m window empties.
    expect(result.noTrafficAt!.getTime() - result.faultAt!.getTime()).toBeGreaterThan(10 * 60_000);
    expect(text).toContain('Traffic is not reaching Runware at D2');
    expect(text).toContain('@alice rolled back D2');
    // The manual rollback still gets its chart (no red line in breach: the four panels around it).
    expect(result.charts.map((p) => p.split('-').slice(-3).join('-'))).toContain(
      `alert-${result.rollbackAt!.toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-')}Z.png`,
    );
    rmSync(dirname(result.charts[0]), { recursive: true });
  });
});
