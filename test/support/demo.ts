import { readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import cron from 'node-cron';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FAULTS, type FaultKind } from '../../src/demo/faults.ts';
import { parseOptions } from '../../src/demo/options.ts';
import { runDemo, type DemoResult } from '../../src/demo/story.ts';
import { openTestDatabase, type TestDatabase } from './db.ts';

/** A run takes 2–4 s on a quiet machine; a loaded 2-core CI box has been seen at 5× that. */
export const RUN_TIMEOUT_MS = 120_000;

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

/**
 * `npm run demo --fault <kind>` at its default settings, except --speed max so it does not wait
 * for the wall clock, on one embedded database per test file (emptied between runs), with the
 * output captured as a pipe would get it (no terminal, no colour).
 */
export function demoRunner(): (fault: FaultKind) => Promise<{ result: DemoResult; text: string }> {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(() => db.close());
  return async (fault) => {
    await db.reset();
    const out = new Capture();
    const result = await runDemo(parseOptions(['--speed', 'max', '--fault', fault]), { out, tty: false, color: false, db });
    return { result, text: out.text };
  };
}

/** The run ends in the auto-rollback by the red line made for this fault, `for` after its first breach. */
export function itRollsBack(demo: ReturnType<typeof demoRunner>, fault: FaultKind): void {
  const line = FAULTS[fault].expectedLine!;
  it(`${fault}: D1 → D2, then the ${line} red line breaches and the guard rolls back`, async () => {
    const { result, text } = await demo(fault);
    expect(result.outcome).toBe('auto_rollback');
    // The story drives the scheduler by hand: nothing scheduled may outlive it (it kept
    // `npm run demo` from ever exiting once).
    expect([...cron.getTasks().values()].map((t) => t.name)).toEqual([]);
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
    // The charts the bot would share: the breach alert's and the rollback's, listed at the end as PNG files.
    const charts = result.charts.map((path) => PNG.sync.read(readFileSync(path)));
    expect(charts.length).toBeGreaterThanOrEqual(2);
    expect(charts.at(-1)!).toMatchObject({ width: 1200, height: 640 });
    expect(text).toMatch(new RegExp(`Charts the bot shared in Slack \\(${charts.length} PNG files in .*\\):\\n  ${result.charts[0]}`));
    rmSync(dirname(result.charts[0]), { recursive: true });
  });
}
