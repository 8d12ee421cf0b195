import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import seed from '../../src/plan/default-plan.json' with { type: 'json' };
import { parsePlan } from '../../src/plan/plan.ts';
import { guardCycle } from '../../src/engine/guard.ts';
import { renderOutcome, renderStatus } from '../../src/render/text.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { alice, bob, engine, mallory, planWith, soakHealthy } from '../support/engine.ts';
import { MINUTE, SECOND } from '../support/clock.ts';
import { feed, insertRoutes } from '../support/traffic.ts';

// Bad input of every kind: each gets a clear, specific answer (or is skipped and counted),
// and nothing is lost or half-changed. The fingerprint is everything a change could touch.
let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

async function fingerprint() {
  const q = async (sql: string) => (await db.app.query(sql)).rows;
  return {
    flag: await q(`SELECT flag_value_text, description FROM feature_flags`),
    runs: await q(`SELECT id, state, written_weights, ended_at FROM rollout.runs ORDER BY id`),
    requests: await q(`SELECT id, status, approvals FROM rollout.requests ORDER BY id`),
    outbox: await q(`SELECT id, kind FROM rollout.outbox ORDER BY id`),
    done: await q(`SELECT count(*)::int AS n FROM rollout.audit WHERE outcome <> 'refused'`),
  };
}

/** A rollout at D1 with an open request for D2 from alice: the state bad input must not disturb. */
async function atD1WithRequest() {
  const { service, clock } = engine(db, { plan: planWith({ approvals: 1 }) });
  await service.handle('d1', alice);
  await service.handle('approve', bob);
  await soakHealthy(db, service, clock, 2 * 3_600_000);
  await service.handle('d2', alice);
  return { service, clock };
}

describe('bad commands change nothing and say what is wrong', () => {
  it.each([
    ['d4', 'usage', '"d4" is not a command'],
    ['deploy everything', 'usage', '"deploy" is not a command'],
    ['d2 --yolo', 'usage', 'takes only --force'],
    ['status now', 'usage', 'takes no arguments'],
    ['history -1', 'usage', 'history takes an optional count'],
    ['approve #abc', 'usage', 'approve takes an optional request number'],
    ['x'.repeat(5000), 'usage', 'the limit is 500'],
    ['rollback \u0000', 'usage', 'control or invisible characters'],
    ['d3\u001b[2J', 'usage', 'control or invisible characters'],
    ['ｄ３', 'usage', 'is not a command'],
    ['🚀', 'usage', 'is not a command'],
    ['d1', 'refused', 'd1 is already active'],
    ['d3', 'refused', 'stages go in order'],
    ['complete', 'refused', 'complete ends the watch after d3'],
    ['approve', 'refused', 'another admin must approve it'],
    ['approve 999', 'refused', 'There is no request #999'],
    ['approve 1', 'refused', 'Request #1 for d1 is already approved by U_BOB'],
    ['reject 1', 'refused', 'already approved'],
  ])('%j → %s', async (text, kind, message) => {
    const { service } = await atD1WithRequest();
    const before = await fingerprint();
    const reply = await service.handle(text, alice);
    expect(reply.outcome.kind).toBe(kind);
    expect(renderOutcome(service.plan, reply.outcome)).toContain(message);
    expect(await fingerprint()).toEqual(before);
  });

  it.each([['rollback'], ['approve'], ['d2 --force'], ['complete'], ['reject']])(
    "a non-admin's %j is refused and changes nothing",
    async (text) => {
      const { service } = await atD1WithRequest();
      const before = await fingerprint();
      const reply = await service.handle(text, mallory);
      expect(reply.outcome).toMatchObject({ kind: 'refused', code: 'not_admin' });
      expect(await fingerprint()).toEqual(before);
    },
  );
});

describe('a hand-edited flag row is reported by name and never overwritten by a promotion', () => {
  it.each([
    ['garbage text', `'🤷'`, 'flag_value_text is not JSON'],
    ['empty text', `''`, 'flag_value_text is empty'],
    ['NULL', 'NULL', 'flag_value_text is empty'],
    ['wrong keys', `'{"fal":0.9,"replicate":0.1}'`, 'weights must name exactly "fal" and "runware"'],
    ['bad sum', `'{"fal":0.9,"runware":0.9}'`, 'weights must sum to 1'],
    ['strings', `'{"fal":"90%","runware":"10%"}'`, 'must be a finite number'],
    ['an array', `'[0.9, 0.1]'`, 'weights must be an object'],
  ])('%s', async (_what, sqlValue, problem) => {
    const { service, clock } = await atD1WithRequest();
    await db.app.query(`UPDATE feature_flags SET flag_value_text = ${sqlValue}`);
    clock.advance(30 * SECOND);
    expect((await guardCycle(service)).kind).toBe('evaluated');
    const status = renderStatus(service.plan, await service.status());
    expect(status).toContain('MALFORMED');
    expect(status).toContain(problem);
    const before = await fingerprint();
    const reply = await service.handle('approve', bob);
    expect(reply.outcome).toMatchObject({ kind: 'refused' });
    expect(await fingerprint()).toEqual(before);
  });
});

describe('broken analytics rows are skipped and counted, never fatal', () => {
  it.each([
    ['non-numeric latency', { latencyMs: 'slow' }, 'latencySkipped'],
    ['negative latency', { latencyMs: -100 }, 'latencySkipped'],
    ['NULL latency', { latencyMs: null }, 'latencySkipped'],
    ['absurd latency', { latencyMs: 9e15 }, 'latencySkipped'],
    ['non-numeric cost', { cost: 'free' }, 'costSkipped'],
    ['negative cost', { cost: -1 }, 'costSkipped'],
    ['absurd cost', { cost: 1e7 }, 'costSkipped'],
    ['a huge exponent', { latencyMs: '1e400' }, 'latencySkipped'],
  ])('%s', async (_what, bad, counter) => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 0, minSamples: 20, baselineCostPerImage: 0.005 }) });
    await service.handle('d1', alice);
    await feed(db.app, new Date(clock.now().getTime() - MINUTE), clock.now(), { perMinute: 60, latencyMs: 1000, cost: 0.005 });
    await insertRoutes(
      db.app,
      Array.from({ length: 10 }, () => ({
        provider: 'runware',
        latencyMs: 1000,
        cost: 0.005,
        ...bad,
        at: new Date(clock.now().getTime() - 1000),
      })),
    );
    const r = await guardCycle(service);
    expect(r.kind).toBe('evaluated');
    const evaluations = (r as { evaluations: { name: string; state: string; value: number | null }[] }).evaluations;
    expect(evaluations.find((e) => e.name === 'p95LatencyMs')).toMatchObject({ state: 'ok', value: 1000 });
    expect(evaluations.find((e) => e.name === 'costPerImageRatio')).toMatchObject({ state: 'ok', value: 1 });
    const { readRouteWindow } = await import('../../src/db/metrics-queries.ts');
    const w = await readRouteWindow(db.pool, service.plan, clock.now(), 5 * MINUTE, true);
    expect((w.providers.runware as unknown as Record<string, number>)[counter]).toBe(10);
    expect(renderStatus(service.plan, await service.status())).toContain('10 unusable skipped');
  });

  it.each([
    ['an unknown provider', { provider: 'midjourney' }],
    ['no provider', { provider: undefined }],
  ])('%s is counted in the split as other, not as the candidate', async (_what, bad) => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 0, minSamples: 20 }) });
    await insertRoutes(
      db.app,
      Array.from({ length: 30 }, () => ({
        provider: bad.provider as string,
        latencyMs: 99_000,
        error: 'x',
        at: new Date(clock.now().getTime() - 1000),
      })),
    );
    const status = await service.status();
    expect(status.split.counts).toMatchObject({ fal: 0, runware: 0, other: 30 });
    expect(status.lines.every((l) => l.evaluation.state === 'no_data')).toBe(true);
  });
});

describe('a plan file with each kind of mistake stops start-up with one line naming the field', () => {
  it.each([
    ['stages[0].weights: weights must sum to 1', (p: any) => (p.stages[0].weights = { fal: 0.9, runware: 0.2 })],
    ['stages[2].name: stage name "d1" is used twice', (p: any) => (p.stages[2].name = 'd1')],
    ['redLines.regenerateRatePercent.window: must be a duration', (p: any) => (p.redLines.regenerateRatePercent.window = '1 hour')],
    ['unknown key "redline"', (p: any) => (p.redline = {})],
    ['approvals: must be a number', (p: any) => (p.approvals = 'one')],
  ])('%s', (message, mutate) => {
    const plan = structuredClone(seed) as any;
    mutate(plan);
    expect(() => parsePlan(plan, 'plan file plan.json')).toThrow(message);
  });
});
