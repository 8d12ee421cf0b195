import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { guardCycle } from '../../src/engine/guard.ts';
import type { RolloutService } from '../../src/engine/service.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { alice, engine, planWith } from '../support/engine.ts';
import { MINUTE, TestClock } from '../support/clock.ts';
import { feed } from '../support/traffic.ts';
import { PassThrough } from 'node:stream';
import { consoleSink } from '../../src/adapters/console.ts';
import { soleLeader } from '../../src/engine/leader.ts';
import { Scheduler } from '../../src/engine/scheduler.ts';
import { createLogger } from '../../src/log.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

const redLines = (failureThreshold: number) => ({
  p95LatencyMs: { threshold: 8000, window: '1m', for: '2m' },
  failureRatePercent: { threshold: failureThreshold, window: '1m', for: '2m' },
  costPerImageRatio: { threshold: 1.2, window: '1h', for: '10m' },
  regenerateRatePercent: { threshold: 5, window: '1h', for: '10m' },
});
/** Replica A's plan file: a 2 % failure red line. */
const planA = () => planWith({ approvals: 0, minSamples: 20, baselineCostPerImage: 0.005, redLines: redLines(2) });
/** Replica B's plan file: the same but a 50 % failure red line (10 % failures are fine by it). */
const planB = () => planWith({ approvals: 0, minSamples: 20, baselineCostPerImage: 0.005, redLines: redLines(50) });

const planDiffers = async () =>
  (await db.app.query(`SELECT payload FROM rollout.outbox WHERE kind = 'plan_differs' ORDER BY id`)).rows.map((r) => r.payload);

/** 10 % failures: a breach by A's plan, fine by B's. */
async function failingMinutes(service: RolloutService, clock: TestClock, minutes: number) {
  const results = [];
  for (let i = 0; i < minutes * 2; i++) {
    const from = clock.now();
    const to = clock.advance(30_000);
    await feed(db.app, from, to, { perMinute: 120, failureShare: 0.1 }, { perMinute: 240 });
    results.push(await guardCycle(service));
  }
  return results;
}

describe('one plan per run, whatever each replica was started with', () => {
  it('a replica with another plan judges the run in progress by the run’s stored plan, says so once, and starts the next run with its own, audited', async () => {
    const clock = new TestClock();
    const a = engine(db, { plan: planA(), clock }).service;
    const b = engine(db, { plan: planB(), clock }).service;
    await feed(db.app, new Date(clock.now().getTime() - 10 * MINUTE), clock.now(), { perMinute: 120 }, { perMinute: 240 });
    expect((await a.handle('d1', alice)).outcome.kind).toBe('stage_started');

    // B starts (or ticks) while A's run is in progress: it follows A's plan and says which keys differ.
    await b.followRun();
    expect(b.plan.redLines.failureRatePercent.threshold).toBe(2);
    expect(b.deps.plans.own.redLines.failureRatePercent.threshold).toBe(50);
    expect(b.deps.plans.state).toEqual({ runId: 1, differing: ['redLines.failureRatePercent.threshold'] });
    const [told] = await planDiffers();
    expect(told).toMatchObject({
      kind: 'plan_differs',
      runId: 1,
      stage: 'd1',
      differences: [{ key: 'redLines.failureRatePercent.threshold', run: 2, replica: 50 }],
    });
    // Once across replicas: B again, and a third replica started with B's plan, add nothing.
    await b.followRun();
    await engine(db, { plan: planB(), clock }).service.followRun();
    expect(await planDiffers()).toHaveLength(1);
    // A replica with yet another plan is another difference: it says so too.
    await engine(db, {
      plan: planWith({ approvals: 0, minSamples: 20, baselineCostPerImage: 0.005, redLines: redLines(9) }),
      clock,
    }).service.followRun();
    expect(await planDiffers()).toHaveLength(2);
    // A follows its own plan: it is the run's.
    await a.followRun();
    expect(a.deps.plans.state).toEqual({ runId: null, differing: [] });
    const { rows: audits } = await db.app.query(`SELECT detail FROM rollout.audit WHERE action = 'plan_differs' ORDER BY id`);
    expect(audits).toHaveLength(2);

    // B leads: 10 % failures breach the run's 2 % red line (its own 50 % would not), and it rolls back.
    const results = await failingMinutes(b, clock, 4);
    expect(results.some((r) => r.kind === 'rolled_back')).toBe(true);
    const rolled = results.find((r) => r.kind === 'rolled_back') as { line: { name: string; threshold: number } };
    expect(rolled.line).toMatchObject({ name: 'failureRatePercent', threshold: 2 });
    await b.followRun();
    // The run ended: B follows its own plan again.
    expect(b.deps.plans.state).toEqual({ runId: null, differing: [] });
    expect(b.plan.redLines.failureRatePercent.threshold).toBe(50);

    // The next run, started on B, stores B's plan; its audit row names what changed since run #1.
    clock.advance(MINUTE);
    expect((await b.handle('d1', alice)).outcome.kind).toBe('stage_started');
    const { rows: runs } = await db.app.query(`SELECT id, plan FROM rollout.runs ORDER BY id`);
    expect(runs[1].plan.redLines.failureRatePercent.threshold).toBe(50);
    const { rows: transitions } = await db.app.query(`SELECT run_id, detail FROM rollout.audit WHERE action = 'transition' ORDER BY id`);
    expect(transitions[0].detail.planChanged).toBeUndefined();
    expect(transitions[1]).toMatchObject({
      run_id: 2,
      detail: {
        planChanged: {
          since: 1,
          keys: ['redLines.failureRatePercent.threshold'],
          values: { 'redLines.failureRatePercent.threshold': { before: 2, now: 50 } },
        },
      },
    });
    // Now A is the one whose plan differs: it follows run #2's (B's) and says so.
    await a.followRun();
    expect(a.plan.redLines.failureRatePercent.threshold).toBe(50);
    expect((await planDiffers()).at(-1)).toMatchObject({
      runId: 2,
      differences: [{ key: 'redLines.failureRatePercent.threshold', run: 50, replica: 2 }],
    });
  });

  it('a command decides by the run’s plan: a replica with other stages refuses and requests by the run’s stages', async () => {
    const clock = new TestClock();
    const a = engine(db, { plan: planA(), clock }).service;
    const b = engine(db, {
      plan: planWith({
        approvals: 0,
        stages: [
          { name: 'd1', weights: { fal: 0.8, runware: 0.2 }, soak: '1m' },
          { name: 'd3', weights: { fal: 0, runware: 1 } },
        ],
      }),
      clock,
    }).service;
    expect((await a.handle('d1', alice)).outcome.kind).toBe('stage_started');
    // By B's own plan d3 would come next after a 1 minute soak; the run's plan has a 1 h soak and d2 next.
    clock.advance(2 * MINUTE);
    const r = await b.handle('d3 --force', alice);
    expect(r.outcome).toMatchObject({ kind: 'refused' });
    expect((r.outcome as { message: string }).message).toMatch(/d2/);
  });

  it('the scheduler runs the guard and the reports at the pace of the run’s plan, and back at its own when the run ends', async () => {
    const clock = new TestClock();
    const a = engine(db, { plan: planA(), clock }).service;
    const own = planWith({ approvals: 0, evaluateEvery: '1m', reportCron: '0 * * * *' });
    const b = engine(db, { plan: own, clock }).service;
    expect((await a.handle('d1', alice)).outcome.kind).toBe('stage_started');
    const lines: string[] = [];
    const log = createLogger({ level: 'info', sink: { isTTY: false, write: (l) => void lines.push(l) } });
    const scheduler = new Scheduler({ service: b, sink: consoleSink(() => b.plan, new PassThrough()), leader: soleLeader(), log });
    try {
      // start() ticks at once (on its own); the tick after it has the plan of the run in force.
      const logged = async (pattern: RegExp) => {
        for (let i = 0; i < 200 && !pattern.test(lines.join('\n')); i++) {
          await scheduler.tick();
          await new Promise((r) => setTimeout(r, 10));
        }
        return lines.join('\n');
      };
      scheduler.start();
      expect(await logged(/guard every 30s/)).toMatch(/guard every 30s, reports on \\?"\*\/15 \* \* \* \*\\?" \(the plan in force\)/);
      expect((await a.handle('rollback', alice)).outcome.kind).toBe('rolled_back');
      expect(await logged(/guard every 60s/)).toMatch(/guard every 60s, reports on \\?"0 \* \* \* \*\\?" \(the plan in force\)/);
    } finally {
      await scheduler.stop();
    }
  });
});
