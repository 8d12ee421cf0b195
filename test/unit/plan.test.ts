import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultPlan, parsePlan, PlanError } from '../../src/plan/plan.ts';
import { loadPlan } from '../../src/config.ts';
import seed from '../../src/plan/default-plan.json' with { type: 'json' };

const mutate = (fn: (p: any) => void) => {
  const p = structuredClone(seed) as any;
  fn(p);
  return p;
};

describe('the plan', () => {
  it('the built-in plan is the seed plan', () => {
    const plan = defaultPlan();
    expect(plan.stages.map((s) => [s.name, s.weights, s.soakMs])).toEqual([
      ['d1', { fal: 0.9, runware: 0.1 }, 3_600_000],
      ['d2', { fal: 0.5, runware: 0.5 }, 10_800_000],
      ['d3', { fal: 0, runware: 1 }, null],
    ]);
    expect(plan.redLines).toEqual({
      p95LatencyMs: { threshold: 8000, windowMs: 300_000, forMs: 300_000 },
      failureRatePercent: { threshold: 2, windowMs: 300_000, forMs: 300_000 },
      costPerImageRatio: { threshold: 1.2, windowMs: 3_600_000, forMs: 600_000 },
      regenerateRatePercent: { threshold: 5, windowMs: 3_600_000, forMs: 600_000 },
    });
    expect(plan).toMatchObject({
      flagKey: 'GEN_PROVIDER_WEIGHTS',
      evaluateEveryMs: 30_000,
      minSamples: 50,
      approvals: 1,
      autoRollback: true,
      rollbackWeights: { fal: 1, runware: 0 },
    });
  });

  // Each mistake gets one line naming the field and the problem.
  it.each([
    ['weights that do not sum to 1', (p: any) => (p.stages[0].weights.fal = 0.8), 'stages[0].weights: weights must sum to 1 (got 0.9)'],
    [
      'a misspelt provider',
      (p: any) => (p.stages[1].weights = { fal: 0.5, runwre: 0.5 }),
      'stages[1].weights: weights must name exactly "fal" and "runware"',
    ],
    ['a third provider', (p: any) => (p.stages[0].weights.replicate = 0), 'stages[0].weights: weights must name exactly'],
    ['a weight above 1', (p: any) => (p.stages[2].weights = { fal: -0.5, runware: 1.5 }), 'must be between 0 and 1'],
    ['a weight as a string', (p: any) => (p.stages[0].weights.fal = '0.9'), 'stages[0].weights.fal: each weight must be a number'],
    ['a duplicate stage', (p: any) => (p.stages[1].name = 'd1'), 'stages[1].name: stage name "d1" is used twice'],
    ['a stage named like a command', (p: any) => (p.stages[0].name = 'rollback'), 'stages[0].name: must not be a command word'],
    ['no stages', (p: any) => (p.stages = []), 'stages: stages must list at least one stage'],
    [
      'a bad duration',
      (p: any) => (p.redLines.p95LatencyMs.for = '5 minutes'),
      'redLines.p95LatencyMs.for: must be a duration like "30s", "5m" or "1h" (got "5 minutes")',
    ],
    ['a numeric duration', (p: any) => (p.evaluateEvery = 30), 'evaluateEvery: must be a duration'],
    ['a too-fast guard', (p: any) => (p.evaluateEvery = '1s'), 'evaluateEvery: must be at least 5s'],
    ['an unknown key', (p: any) => (p.minSample = 10), 'unknown key "minSample" (check the spelling)'],
    ['a missing key', (p: any) => delete p.flagKey, 'flagKey: is required'],
    ['a missing red line', (p: any) => delete p.redLines.costPerImageRatio, 'redLines.costPerImageRatio: is required'],
    [
      'a negative threshold',
      (p: any) => (p.redLines.failureRatePercent.threshold = -2),
      'redLines.failureRatePercent.threshold: must be a positive number',
    ],
    ['a bad cron', (p: any) => (p.reportCron = 'every 15 minutes'), 'reportCron: must be a cron expression'],
    ['fractional minSamples', (p: any) => (p.minSamples = 2.5), 'minSamples: must be a whole number'],
    ['negative approvals', (p: any) => (p.approvals = -1), 'approvals: must be 0 or more'],
    ['a zero baseline', (p: any) => (p.baselineCostPerImage = 0), 'baselineCostPerImage: must be a positive number, or null'],
    [
      'rollback weights keeping traffic on the candidate',
      (p: any) => (p.rollbackWeights = { fal: 0.9, runware: 0.1 }),
      'rollbackWeights: must send no traffic to runware',
    ],
    ['from equal to to', (p: any) => (p.to = 'fal'), 'to: must differ from "from"'],
  ])('refuses %s', (_what, fn, message) => {
    expect(() => parsePlan(mutate(fn), 'plan file p.json')).toThrow(PlanError);
    expect(() => parsePlan(mutate(fn), 'plan file p.json')).toThrow(message);
  });

  it('loads a plan file, and names the file when it is unreadable or not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'plan-'));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ ...seed, approvals: 2, autoRollback: false }));
    expect(loadPlan(good)).toMatchObject({ approvals: 2, autoRollback: false });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "flagKey": ');
    expect(() => loadPlan(bad)).toThrow(`plan file ${bad}: not valid JSON`);
    expect(() => loadPlan(join(dir, 'missing.json'))).toThrow('cannot read it (ENOENT); fix ROLLOUT_PLAN or unset it');
  });
});
