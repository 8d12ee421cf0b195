import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULTS, FAULT_KINDS, type FaultKind } from '../../src/demo/faults.ts';
import { parseOptions } from '../../src/demo/options.ts';
import { runDemo, type DemoResult } from '../../src/demo/story.ts';
import { dbKind, openTestDatabase, type TestDatabase } from '../support/db.ts';

/**
 * `npm run demo` at its default settings (only --speed max, so it does not wait for the wall
 * clock), once per fault: the real engine must walk D1 → D2 and answer each fault as the plan
 * says. Scoped to the embedded database on purpose: the demo always runs on its own in-memory
 * PGlite and must never touch a real Postgres, so the postgres project would only repeat it.
 * One PGlite is shared by the five runs (emptied in between) to keep the suite fast.
 */
class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

// A run takes 2–4 s on a quiet machine; a loaded 2-core CI box has been seen at 5× that.
const RUN_TIMEOUT_MS = 120_000;

describe.skipIf(dbKind() === 'postgres')('npm run demo', { timeout: RUN_TIMEOUT_MS }, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(() => db.close());

  async function demo(fault: FaultKind): Promise<{ result: DemoResult; text: string }> {
    await db.reset();
    const out = new Capture();
    const result = await runDemo(parseOptions(['--speed', 'max', '--fault', fault]), { out, tty: false, color: false, db });
    return { result, text: out.text };
  }

  for (const fault of FAULT_KINDS.filter((f) => FAULTS[f].expectedLine)) {
    const line = FAULTS[fault].expectedLine!;
    it(`${fault}: D1 → D2, then the ${line} red line breaches and the guard rolls back`, async () => {
      const { result, text } = await demo(fault);
      expect(result.outcome).toBe('auto_rollback');
      expect(result.line).toBe(line);
      const breach = result.firstBreach[line]!;
      expect(breach.getTime()).toBeGreaterThanOrEqual(result.faultAt!.getTime());
      // Prometheus `for`: the rollback comes `for` after the first breach, at most one evaluation later.
      const held = result.rollbackAt!.getTime() - breach.getTime();
      const forMs = line === 'p95LatencyMs' || line === 'failureRatePercent' ? 5 * 60_000 : 10 * 60_000;
      expect(held).toBeGreaterThanOrEqual(forMs);
      expect(held).toBeLessThanOrEqual(forMs + 30_000);
      // No red line breached on healthy traffic, before the fault.
      for (const at of Object.values(result.firstBreach)) expect(at!.getTime()).toBeGreaterThanOrEqual(result.faultAt!.getTime());
      // What the channel showed, from the Block Kit builders, and the closing timeline.
      expect(text).toContain('@bob clicks [ Approve D1 ]');
      expect(text).toContain('@alice clicks [ Approve D2 ]');
      expect(text).toContain('AUTO-ROLLBACK at D2');
      expect(text).toContain('Health endpoint confirms FAL 100% / Runware 0%');
      expect(text).toMatch(/Timeline[\s\S]*fault starts[\s\S]*first breach[\s\S]*AUTO-ROLLBACK/);
      expect(text).not.toContain('\r');
    });
  }

  it('no-traffic: an alert, not a rollback; an admin rolls back by hand', async () => {
    const { result, text } = await demo('no-traffic');
    expect(result.outcome).toBe('manual_rollback');
    expect(result.line).toBeNull();
    expect(result.firstBreach).toEqual({});
    // Thin for longer than the longest `for` (10 min) after the 5m window empties.
    expect(result.noTrafficAt!.getTime() - result.faultAt!.getTime()).toBeGreaterThan(10 * 60_000);
    expect(text).toContain('Traffic is not reaching Runware at D2');
    expect(text).toContain('@alice rolled back D2');
  });
});
