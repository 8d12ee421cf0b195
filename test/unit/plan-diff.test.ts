import { describe, expect, it } from 'vitest';
import { parsePlan } from '../../src/plan/plan.ts';
import { planDifferences } from '../../src/plan/plan-diff.ts';
import seed from '../../src/plan/default-plan.json' with { type: 'json' };

const plan = (fn: (p: any) => void = () => {}) => {
  const p = structuredClone(seed) as any;
  fn(p);
  return parsePlan(p);
};

describe('planDifferences', () => {
  it('the same plan written differently is no difference: "60s" is "1m", an omitted default is the default', () => {
    const a = plan((p) => {
      p.evaluateEvery = '60s';
      delete p.splitTolerance;
    });
    const b = plan((p) => {
      p.evaluateEvery = '1m';
      p.splitTolerance = 0.05;
    });
    expect(a.evaluateEveryMs).toBe(b.evaluateEveryMs);
    expect(planDifferences(a, b)).toEqual([]);
  });

  it('names each differing key by its path, with both values, in the plan order', () => {
    const a = plan();
    const b = plan((p) => {
      p.redLines.failureRatePercent.threshold = 5;
      p.stages[1].weights = { fal: 0.6, runware: 0.4 };
      p.compare = { confidence: 0.99 };
    });
    expect(planDifferences(a, b)).toEqual([
      { key: 'compare.confidence', a: 0.95, b: 0.99 },
      { key: 'stages[1].weights.fal', a: 0.5, b: 0.6 },
      { key: 'stages[1].weights.runware', a: 0.5, b: 0.4 },
      { key: 'redLines.failureRatePercent.threshold', a: 2, b: 5 },
    ]);
  });

  it('a stage one plan has and the other lacks is named with undefined on the missing side', () => {
    const a = plan();
    const b = plan((p) => {
      p.stages = p.stages.slice(0, 2);
      p.stages[1].soak = undefined;
    });
    const keys = planDifferences(a, b).map((d) => d.key);
    expect(keys).toContain('stages[2]');
    expect(planDifferences(a, b).find((d) => d.key === 'stages[2]')!.b).toBeUndefined();
  });
});
