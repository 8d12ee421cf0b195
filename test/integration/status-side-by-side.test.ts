import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { alice, engine, planWith } from '../support/engine.ts';
import { SECOND } from '../support/clock.ts';
import { feed, type Health } from '../support/traffic.ts';
import { guardCycle } from '../../src/engine/guard.ts';
import { renderOutcome } from '../../src/render/text.ts';
import { statusMessage } from '../../src/render/blocks/status.ts';

// D1 with Runware failing about 4 % and FAL about 0.5 %: status shows both providers' value and n
// for every red line, Runware judged, the comparison right under them.
let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

const RUNWARE: Health = { perMinute: 340, latencyMs: 2_400, failureShare: 0.04, cost: 0.0045 };
const FAL: Health = { perMinute: 3_060, latencyMs: 3_100, failureShare: 0.005, cost: 0.005 };

describe('status during D1, Runware failing and FAL not', () => {
  it('shows FAL next to Runware on every red line', async () => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 0, baselineCostPerImage: 0.005 }) });
    await service.handle('d1', alice);
    for (let i = 0; i < 4; i++) {
      const from = clock.now();
      await feed(db.app, from, clock.advance(30 * SECOND), RUNWARE, FAL);
      await guardCycle(service);
    }
    const status = await service.reads.status();
    const text = renderOutcome(service.plan, { kind: 'status', status });
    expect(text).toContain('Red lines (Runware judged, FAL for comparison):');
    expect(text).toMatch(/failure rate\s+> 2\.00%\s+5m\s+4\.\d\d%\s+680\s+0\.\d\d%\s+6,120\s+BREACH/);
    expect(text).toMatch(/p95 latency\s+≥ 8\.00 s\s+5m\s+2\.40 s\s+680\s+3\.10 s\s+6,120\s+ok/);
    expect(text).toMatch(/regenerate-voucher rate\s+> 5\.00%\s+1h\s+0\.00%\s+6,740\s+—\s+ok \(one rate for all traffic, both providers\)/);
    // Two minutes in, thousands of requests seen: the sequential verdict says what it counts and when it will have enough.
    expect(text).toContain(
      "Runware vs FAL on failures: nothing counted yet. It counts this stage's whole minutes, each 2m after it ends: the first (10:00–10:01 UTC) counts at 10:03 UTC; each needs 200; enough at about 10:05 UTC",
    );
    const blocks = JSON.stringify(statusMessage(service.plan, status).blocks);
    expect(blocks).toContain('"*Runware*  4.');
    expect(blocks).toContain('"FAL  0.');
  });
});
