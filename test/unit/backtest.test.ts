import { describe, expect, it } from 'vitest';
import { p95Verdict } from '../../src/core/backtest.ts';

/** PERCENTILE_CONT(0.95) as Postgres computes it. */
function percentileCont(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const p = 0.95 * (v.length - 1);
  const lo = Math.floor(p);
  return v[lo] + (p - lo) * (v[Math.ceil(p)] - v[lo]);
}

describe('p95 decided from counts', () => {
  it('agrees with PERCENTILE_CONT on 5 000 random windows, or says it cannot tell', () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    let ambiguous = 0;
    for (let t = 0; t < 5_000; t++) {
      const n = 1 + Math.floor(rand() * 300);
      const tail = rand() * 0.2;
      const values = Array.from({ length: n }, () => (rand() < tail ? 6_000 + rand() * 8_000 : 500 + rand() * 4_000));
      const threshold = 8_000;
      const verdict = p95Verdict(n, values.filter((x) => x >= threshold).length);
      const exact = percentileCont(values) >= threshold ? 'breach' : 'ok';
      if (verdict === 'ambiguous') ambiguous++;
      else expect(verdict).toBe(exact);
    }
    expect(ambiguous).toBeLessThan(500); // the exact read is the exception, not the rule
  });

  it('has no verdict without samples', () => {
    expect(p95Verdict(0, 0)).toBe('none');
    expect(p95Verdict(1, 1)).toBe('breach');
    expect(p95Verdict(1, 0)).toBe('ok');
  });
});

describe('p95 over a window of buckets', () => {
  it("gives the guard's verdict everywhere, and PERCENTILE_CONT's exact value where the threshold falls between its two points", async () => {
    const { SeriesWindows, emptySeries } = await import('../../src/core/backtest.ts');
    const { defaultPlan } = await import('../../src/plan/plan.ts');
    const plan = defaultPlan();
    const threshold = plan.redLines.p95LatencyMs.threshold;
    let seed = 7;
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const n = 400;
    const series = emptySeries(0, 30_000, n);
    const values: number[][] = [];
    for (let i = 0; i < n; i++) {
      const tail = (Math.sin(i / 20) + 1) * 0.05; // drifts around the threshold's share
      values[i] = Array.from({ length: 3 + Math.floor(rand() * 8) }, () =>
        Math.round(rand() < tail ? 7_000 + rand() * 3_000 : 1_000 + rand() * 3_000),
      );
      for (const v of values[i]) {
        series.to.requests[i]++;
        series.to.latencySamples[i]++;
        if (v >= threshold) {
          series.to.latencyAtOrAbove[i]++;
          series.to.latencyAboveMin[i] = Number.isNaN(series.to.latencyAboveMin[i]) ? v : Math.min(series.to.latencyAboveMin[i], v);
        } else series.to.latencyBelowMax[i] = Number.isNaN(series.to.latencyBelowMax[i]) ? v : Math.max(series.to.latencyBelowMax[i], v);
      }
    }
    const windows = new SeriesWindows(plan, series);
    let exactChecked = 0;
    for (let i = 9; i < n; i++) {
      const window = values.slice(i - 9, i + 1).flat();
      const exact = percentileCont(window);
      const p95 = windows.snapshotAt(i).routes.find((r) => r.windowMs === 300_000)!.providers.runware.p95LatencyMs!;
      expect(p95 >= threshold).toBe(exact >= threshold);
      if (p95Verdict(window.length, window.filter((v) => v >= threshold).length) === 'ambiguous') {
        expect(p95).toBeCloseTo(exact, 9);
        exactChecked++;
      }
    }
    expect(exactChecked).toBeGreaterThan(0);
  });
});

describe('would-be rollbacks FAL shares', () => {
  it('are marked shared and counted apart; one Runware has alone is not', async () => {
    const { SeriesWindows, emptySeries, replay, bucketMs } = await import('../../src/core/backtest.ts');
    const { parsePlan } = await import('../../src/plan/plan.ts');
    const seed = (await import('../../src/plan/default-plan.json', { with: { type: 'json' } })).default;
    const { renderBacktest } = await import('../../src/render/backtest.ts');
    const plan = parsePlan({ ...structuredClone(seed), baselineCostPerImage: 0.005 });
    const step = bucketMs(plan);
    const hour = 3_600_000 / step;
    const series = emptySeries(0, step, 3 * hour);
    // 100 requests per bucket on each provider; Runware fails 10 % throughout; FAL only in the first 90 minutes.
    for (let i = 0; i < series.length; i++) {
      for (const [s, failures] of [
        [series.to, 10],
        [series.from, i < 1.5 * hour ? 10 : 0],
      ] as const) {
        s.requests[i] = 100;
        s.failures[i] = failures;
        s.latencySamples[i] = 100;
      }
      series.genOk[i] = 180;
    }
    const result = replay(new SeriesWindows(plan, series), hour, 0.005, 'plan');
    const failures = result.rollbacks.filter((r) => r.line.name === 'failureRatePercent');
    expect(failures.length).toBeGreaterThan(2);
    expect(failures[0].shared).toBe(true);
    expect(failures.at(-1)!.shared).toBe(false);
    const text = renderBacktest(plan, { ...result, rowsRead: 0, tookMs: 0 });
    expect(text).toMatch(/Auto-rollbacks that would have fired \(\d+, \d+ of them with FAL in breach too\)/);
    expect(text).toContain('FAL in breach too (shared cause)');
  });
});
