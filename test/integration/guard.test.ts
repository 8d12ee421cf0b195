import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { guardCycle } from '../../src/engine/guard.ts';
import type { GuardResult } from '../../src/engine/ports.ts';
import type { RolloutService } from '../../src/engine/service.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { alice, engine, flagRow, planWith } from '../support/engine.ts';
import { HOUR, MINUTE, SECOND, TestClock } from '../support/clock.ts';
import { feed, steadyTraffic, type Health } from '../support/traffic.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

const HEALTHY: Health = { perMinute: 120, latencyMs: 1500, failureShare: 0, cost: 0.005 };
const FAILING: Health = { perMinute: 120, latencyMs: 1500, failureShare: 1, cost: 0.005 };

/** A 1-minute failure window with a 5-minute `for`, so a short burst stays shorter than `for`. */
const fastPlan = () =>
  planWith({
    approvals: 0,
    minSamples: 20,
    baselineCostPerImage: 0.005,
    redLines: {
      p95LatencyMs: { threshold: 8000, window: '1m', for: '5m' },
      failureRatePercent: { threshold: 2, window: '1m', for: '5m' },
      costPerImageRatio: { threshold: 1.2, window: '1h', for: '10m' },
      regenerateRatePercent: { threshold: 5, window: '1h', for: '10m' },
    },
  });

async function startD1(service: RolloutService) {
  const r = await service.handle('d1', alice);
  expect(r.outcome.kind).toBe('stage_started');
}

/** Moves the clock one evaluation at a time, feeding traffic for each step, and runs the guard. */
async function step(service: RolloutService, clock: TestClock, health: Health): Promise<GuardResult> {
  const from = clock.now();
  const to = clock.advance(service.plan.evaluateEveryMs);
  await feed(db.app, from, to, health, { perMinute: 240, latencyMs: 1200, cost: 0.005 });
  return guardCycle(service);
}

async function runState() {
  const { rows } = await db.app.query('SELECT state, end_reason FROM rollout.runs ORDER BY id DESC LIMIT 1');
  return rows[0];
}

describe('the guard: Prometheus `for:` semantics', () => {
  it('a breach shorter than `for` never rolls back', async () => {
    const { service, clock } = engine(db, { plan: fastPlan() });
    await feed(db.app, new Date(clock.now().getTime() - 10 * MINUTE), clock.now(), HEALTHY);
    await startD1(service);
    for (let i = 0; i < 4; i++) expect((await step(service, clock, HEALTHY)).kind).toBe('evaluated');
    const states: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await step(service, clock, FAILING); // 3 minutes of failures
      expect(r.kind).toBe('evaluated');
      states.push(
        (r as { evaluations: { name: string; state: string }[] }).evaluations.find((e) => e.name === 'failureRatePercent')!.state,
      );
    }
    expect(states).toEqual(Array(6).fill('breach'));
    for (let i = 0; i < 20; i++) expect((await step(service, clock, HEALTHY)).kind).toBe('evaluated');
    expect((await runState()).state).toBe('d1');
    const { rows } = await db.app.query(`SELECT kind FROM rollout.outbox WHERE kind LIKE 'breach%' ORDER BY id`);
    expect(rows.map((r) => r.kind)).toEqual(['breach_started', 'breach_recovered']);
  });

  it('a breach that holds rolls back at the first evaluation after `for`, and only once', async () => {
    const { service, clock } = engine(db, { plan: fastPlan() });
    await startD1(service);
    for (let i = 0; i < 4; i++) await step(service, clock, HEALTHY);
    const faultAt = clock.now().getTime();
    let rolledBackAt: number | null = null;
    let firstBreachAt: number | null = null;
    for (let i = 0; i < 20 && rolledBackAt === null; i++) {
      const r = await step(service, clock, FAILING);
      if (r.kind === 'evaluated' && firstBreachAt === null && r.evaluations.some((e) => e.state === 'breach'))
        firstBreachAt = clock.now().getTime();
      if (r.kind === 'rolled_back') {
        rolledBackAt = clock.now().getTime();
        expect(r.line.name).toBe('failureRatePercent');
      }
    }
    expect(firstBreachAt).not.toBeNull();
    expect(rolledBackAt! - firstBreachAt!).toBe(5 * MINUTE);
    // The condition became true after the fault began; rollback is at most one interval after `for`.
    expect(rolledBackAt! - faultAt).toBeLessThanOrEqual(5 * MINUTE + 30 * SECOND);
    expect(await flagRow(db)).toMatchObject({
      flag_value_text: '{"fal":1.0,"runware":0.0}',
      description: 'Provider weights: 100% FAL, 0% Runware (Rollback)',
    });
    expect((await runState()).state).toBe('rolled_back');
    expect((await step(service, clock, FAILING)).kind).toBe('idle');
    const { rows } = await db.app.query(`SELECT payload FROM rollout.outbox WHERE kind = 'auto_rollback'`);
    expect(rows).toHaveLength(1);
    expect(rows[0].payload).toMatchObject({
      stage: 'd1',
      shadow: false,
      line: { name: 'failureRatePercent', value: 100, threshold: 2, windowMs: MINUTE },
      heldMs: 5 * MINUTE,
    });
    const audit = await db.app.query(`SELECT actor, detail FROM rollout.audit WHERE action = 'rollback'`);
    expect(audit.rows).toEqual([
      expect.objectContaining({ actor: 'guard', detail: expect.objectContaining({ label: 'Rollback', automatic: true, baseline: 0.005 }) }),
    ]);
  });

  it('a restart in the middle of a breach keeps its clock', async () => {
    const plan = fastPlan();
    const clock = new TestClock();
    const first = engine(db, { plan, clock }).service;
    await startD1(first);
    for (let i = 0; i < 6; i++) await step(first, clock, FAILING); // breach since the first step: 3 min held
    // A new process: nothing in memory, the same database.
    const second = engine(db, { plan, clock }).service;
    const kinds: string[] = [];
    for (let i = 0; i < 6; i++) kinds.push((await step(second, clock, FAILING)).kind);
    expect(kinds).toEqual(['evaluated', 'evaluated', 'evaluated', 'evaluated', 'rolled_back', 'idle']);
  });

  it('no data resets the clock; an errored evaluation holds it', async () => {
    const { service, clock } = engine(db, { plan: fastPlan() });
    await startD1(service);
    for (let i = 0; i < 6; i++) await step(service, clock, FAILING);
    // Two minutes of no candidate traffic: the 1-minute window empties, no data, the clock resets.
    for (let i = 0; i < 4; i++) await step(service, clock, { perMinute: 0 });
    const { rows: reset } = await db.app.query(`SELECT clocks FROM rollout.guard_state`);
    expect(reset[0].clocks.lines.failureRatePercent).toMatchObject({ state: 'no_data', breachSince: null });
    for (let i = 0; i < 6; i++) expect((await step(service, clock, FAILING)).kind).toBe('evaluated');
    const since = (await db.app.query(`SELECT clocks FROM rollout.guard_state`)).rows[0].clocks.lines.failureRatePercent.breachSince;
    // The metrics source breaks for two evaluations: error state, clock held (neither reset nor advanced into a rollback).
    await db.app.query('ALTER TABLE analytics_logs RENAME TO analytics_logs_away');
    try {
      for (let i = 0; i < 2; i++) {
        clock.advance(30 * SECOND);
        const r = await guardCycle(service);
        expect(r.kind).toBe('evaluated');
        expect((r as { evaluations: { state: string }[] }).evaluations.map((e) => e.state)).toEqual(['error', 'error', 'error', 'error']);
      }
    } finally {
      await db.app.query('ALTER TABLE analytics_logs_away RENAME TO analytics_logs');
    }
    const held = (await db.app.query(`SELECT clocks FROM rollout.guard_state`)).rows[0].clocks;
    expect(held.lines.failureRatePercent).toMatchObject({ state: 'error', breachSince: since });
    const kinds = (await db.app.query(`SELECT kind FROM rollout.outbox WHERE kind LIKE 'guard%' ORDER BY id`)).rows.map((r) => r.kind);
    expect(kinds).toEqual(['guard_error']);
    // Back, still failing: the breach began 3.5 min ago (2.5 min before the error, 1 min of error),
    // so it is acted on 1.5 min later; a reset clock would need 5 more minutes.
    const kinds2: string[] = [];
    for (let i = 0; i < 3; i++) kinds2.push((await step(service, clock, FAILING)).kind);
    expect(kinds2).toEqual(['evaluated', 'evaluated', 'rolled_back']);
  });
});

describe('the guard and the flag row', () => {
  it('adopts the seed rollback SQL run by hand as a manual rollback, without overwriting it', async () => {
    const { service, clock } = engine(db, { plan: fastPlan() });
    await startD1(service);
    await db.app.query(
      `UPDATE feature_flags SET flag_value_text = '{"fal":1.0,"runware":0.0}', description = 'Provider weights: 100% FAL, 0% Runware (Manual Rollback)', updated_at = NOW() WHERE flag_key = 'GEN_PROVIDER_WEIGHTS'`,
    );
    expect((await step(service, clock, HEALTHY)).kind).toBe('adopted_manual_rollback');
    expect(await runState()).toEqual({ state: 'rolled_back', end_reason: 'flag set to the rollback weights by hand (who is unknown)' });
    expect((await flagRow(db)).description).toBe('Provider weights: 100% FAL, 0% Runware (Manual Rollback)');
    const { rows } = await db.app.query(`SELECT payload FROM rollout.outbox WHERE kind = 'manual_rollback'`);
    expect(rows[0].payload).toMatchObject({ byHand: true, by: 'unknown' });
  });

  it('a deleted flag row means all traffic on FAL: adopted as a rollback too', async () => {
    const { service, clock } = engine(db, { plan: fastPlan() });
    await startD1(service);
    await db.app.query(`DELETE FROM feature_flags`);
    expect((await step(service, clock, HEALTHY)).kind).toBe('adopted_manual_rollback');
    expect(await flagRow(db)).toBeNull();
  });

  it('other hand edits are alerted once, shown in status, block promotion, and are never overwritten', async () => {
    const { service, clock } = engine(db, { plan: fastPlan() });
    await startD1(service);
    await db.app.query(`UPDATE feature_flags SET flag_value_text = '{"fal":0.7,"runware":0.3}'`);
    for (let i = 0; i < 3; i++) expect((await step(service, clock, HEALTHY)).kind).toBe('evaluated');
    await db.app.query(`UPDATE feature_flags SET flag_value_text = 'fal=0.7'`);
    for (let i = 0; i < 3; i++) expect((await step(service, clock, HEALTHY)).kind).toBe('evaluated');
    const { rows } = await db.app.query(`SELECT payload FROM rollout.outbox WHERE kind = 'flag_drift' ORDER BY id`);
    expect(rows.map((r) => [r.payload.found, r.payload.problem])).toEqual([
      ['{"fal":0.7,"runware":0.3}', null],
      ['fal=0.7', 'flag_value_text is not JSON: "fal=0.7"'],
    ]);
    const status = await service.status();
    expect(status.flag.kind).toBe('malformed');
    expect(status.drift).toContain('by whom is unknown');
    clock.advance(HOUR);
    const refused = await service.handle('d2', alice);
    expect(refused.outcome).toMatchObject({ kind: 'refused', code: 'drift' });
    expect((await flagRow(db)).flag_value_text).toBe('fal=0.7');
  });
});

describe('the guard: shadow mode, thin traffic and the baseline', () => {
  it('shadow mode alerts exactly as usual but never writes the flag', async () => {
    const plan = planWith({
      ...JSON.parse(JSON.stringify({})),
      approvals: 0,
      minSamples: 20,
      baselineCostPerImage: 0.005,
      autoRollback: false,
    });
    const { service, clock } = engine(db, { plan });
    await startD1(service);
    const kinds = new Set<string>();
    for (let i = 0; i < 20; i++) kinds.add((await step(service, clock, FAILING)).kind);
    expect(kinds).toEqual(new Set(['evaluated']));
    expect((await runState()).state).toBe('d1');
    expect((await flagRow(db)).flag_value_text).toBe('{"fal":0.9,"runware":0.1}');
    const { rows } = await db.app.query(`SELECT payload FROM rollout.outbox WHERE kind IN ('breach_started', 'auto_rollback') ORDER BY id`);
    expect(rows.map((r) => [r.payload.kind, r.payload.line.name, r.payload.shadow])).toEqual([
      ['breach_started', 'failureRatePercent', true],
      ['auto_rollback', 'failureRatePercent', true],
    ]);
  });

  it('a candidate with weight but no traffic for longer than the longest `for` is its own alert, not a rollback', async () => {
    const { service, clock } = engine(db, { plan: fastPlan() });
    await startD1(service);
    const kinds: string[] = [];
    for (let i = 0; i < 24; i++) kinds.push((await step(service, clock, { perMinute: 0 })).kind);
    expect(new Set(kinds)).toEqual(new Set(['evaluated']));
    const { rows } = await db.app.query(`SELECT created_at, payload FROM rollout.outbox WHERE kind = 'no_traffic'`);
    expect(rows).toHaveLength(1);
    expect(rows[0].payload).toMatchObject({ provider: 'runware', weight: 0.1, candidateRequests: 0 });
    expect(rows[0].payload.thinForMs).toBeGreaterThan(10 * MINUTE);
    for (let i = 0; i < 2; i++) await step(service, clock, HEALTHY);
    expect((await db.app.query(`SELECT count(*)::int AS n FROM rollout.outbox WHERE kind = 'traffic_restored'`)).rows[0].n).toBe(1);
  });

  it('measures the baseline from FAL over the 24 h before D1, once', async () => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 0 }) });
    await steadyTraffic(db.app, { provider: 'fal', end: clock.now(), minutes: 60, perMinute: 2, latencyMs: 1000, cost: 0.004 });
    await startD1(service);
    clock.advance(30 * SECOND);
    await guardCycle(service);
    const { rows } = await db.app.query('SELECT baseline_cost, baseline_note FROM rollout.runs');
    expect(rows[0].baseline_cost).toBeCloseTo(0.004, 9);
    expect(rows[0].baseline_note).toContain('over the 24 h before D1 started (120 images)');
  });

  it('says so when the baseline cannot be measured, and measures it on FAL traffic during the rollout once there is some', async () => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 0, minSamples: 20 }) });
    await startD1(service);
    const costState = (r: GuardResult) =>
      (r as { evaluations: { name: string; state: string }[] }).evaluations.find((e) => e.name === 'costPerImageRatio')!.state;
    const baseline = async () => (await db.app.query('SELECT baseline_cost, baseline_note FROM rollout.runs')).rows[0];

    const start = clock.now();
    await feed(db.app, start, clock.advance(30 * SECOND), HEALTHY);
    const r = await guardCycle(service);
    expect(costState(r)).toBe('no_data');
    expect(await baseline()).toMatchObject({ baseline_cost: null });
    expect((await baseline()).baseline_note).toMatch(
      /^not measurable yet: 0 FAL costs in the 24 h before .*set baselineCostPerImage in the plan$/,
    );

    // FAL keeps serving 90 % during D1: after 10 min the guard tries again, over the 24 h up to now.
    const later = clock.now();
    await feed(db.app, later, clock.advance(10 * MINUTE), HEALTHY, { perMinute: 20, latencyMs: 1200, cost: 0.0045 });
    expect(costState(await guardCycle(service))).toBe('ok');
    expect((await baseline()).baseline_cost).toBeCloseTo(0.0045, 9);
    expect((await baseline()).baseline_note).toContain("FAL's traffic during the rollout");
  });
});
