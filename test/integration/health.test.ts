import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chartPng } from '../../src/adapters/chart-png.ts';
import { healthEndpoint } from '../../src/adapters/health-endpoint.ts';
import { healthConfirms } from '../../src/core/health.ts';
import { adminList } from '../../src/engine/access.ts';
import { RolloutService } from '../../src/engine/service.ts';
import { defaultPlan } from '../../src/plan/plan.ts';
import { renderStatus } from '../../src/render/text.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { TestClock } from '../support/clock.ts';

// The app's /api/health is the border we cannot reach: a local server plays it, badly on purpose.
type Mode = 'ok' | 'stale' | 'slow' | 'error' | 'garbage' | 'wrong-shape';
let mode: Mode = 'ok';
let requests = 0;
let server: http.Server;
let url: string;
let db: TestDatabase;
const plan = defaultPlan();

beforeAll(async () => {
  server = http.createServer((_req, res) => {
    requests++;
    const providers = (weights: unknown) => ({
      fal: { ok: true, latency_ms: 125, error: null, configured: true },
      runware: { ok: mode !== 'stale', latency_ms: 98, error: mode === 'stale' ? 'auth failed' : null, configured: true },
      config: { primary: 'fal', weights },
    });
    switch (mode) {
      case 'ok':
        return res.end(JSON.stringify({ providers: providers({ fal: 0.9, runware: 0.1 }) }));
      case 'stale':
        return res.end(JSON.stringify({ providers: providers({ fal: 1, runware: 0 }) }));
      case 'slow':
        return setTimeout(() => res.end('{}'), 5_000);
      case 'error':
        res.statusCode = 500;
        return res.end('Internal Server Error');
      case 'garbage':
        return res.end('<html><body>502 Bad Gateway</body></html>');
      case 'wrong-shape':
        return res.end(JSON.stringify({ providers: { config: { weights: 'fal=0.9' } } }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/health`;
  db = await openTestDatabase();
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await db.close();
});
beforeEach(() => db.reset());

describe('the health endpoint, when the app misbehaves', () => {
  // Generous beside a local answer (a loaded CI machine has been seen to take 300 ms), well short of 'slow'.
  const health = () => healthEndpoint(plan, url, 1_500);

  it.each([
    ['ok', 'read', true, 'Health: FAL ok 125 ms, Runware ok 98 ms; app reports FAL 90% / Runware 10%'],
    ['stale', 'read', false, 'Health: FAL ok 125 ms, Runware DOWN (auth failed) 98 ms; app reports FAL 100% / Runware 0%'],
    ['slow', 'unreachable', false, 'Health: unreachable: no answer within 1500 ms'],
    ['error', 'unreachable', false, 'Health: unreachable: HTTP 500'],
    ['garbage', 'invalid', false, 'Health: unusable answer: the answer is not JSON'],
    ['wrong-shape', 'read', false, 'app reports no weights (weights must be an object like {"fal":0.9,"runware":0.1})'],
  ] as const)('%s: read as %s, confirms the D1 weights: %s', async (m, kind, confirms, line) => {
    mode = m;
    const reading = await health().read();
    expect(reading.kind).toBe(kind);
    expect(healthConfirms(plan, reading, { fal: 0.9, runware: 0.1 })).toBe(confirms);
    const service = new RolloutService({ db, plan, now: new TestClock().now, access: adminList([]), health: health(), charts: chartPng });
    const text = renderStatus(plan, await service.status());
    expect(text).toContain(line);
  });

  it('an unreachable host is reported, not thrown', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const reading = await healthEndpoint(plan, `http://127.0.0.1:${port}/api/health`, 300).read();
    expect(reading).toMatchObject({ kind: 'unreachable', problem: 'ECONNREFUSED' });
  });
});

describe('one reading of the health endpoint per evaluation interval', () => {
  it('a scrape, status and the refresher in one interval share one GET; the next interval reads again', async () => {
    mode = 'ok';
    const clock = new TestClock('2026-11-28T10:00:00Z');
    const service = new RolloutService({
      db,
      plan,
      now: clock.now,
      access: adminList([]),
      health: healthEndpoint(plan, url, 1_000),
      charts: chartPng,
    });
    const before = requests;
    // Asked at once (a scrape racing the refresher), then again within the interval.
    const [a, b] = await Promise.all([service.reads.gauges(), service.reads.health()]);
    expect(a.health).toBe(b);
    await service.status();
    clock.advance(plan.evaluateEveryMs - 1);
    await service.reads.gauges();
    expect(requests - before).toBe(1);
    // One interval later the reading is stale: a new GET, which sees what the app says now.
    mode = 'stale';
    clock.advance(1);
    const next = await service.reads.health();
    expect(requests - before).toBe(2);
    expect(next.kind === 'read' && next.weights).toEqual({ fal: 1, runware: 0 });
  });
});
