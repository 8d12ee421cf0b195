import { defaultPlan, type Plan } from '../../src/plan/plan.ts';
import { emptySeries, SeriesWindows, type BucketSeries, type ProviderSeries } from '../../src/core/backtest.ts';
import { binOf, emptyHistograms } from '../../src/core/latency-histogram.ts';
import { chartSeries, type ChartSeries, type Histograms } from '../../src/core/chart-series.ts';
import { Random } from '../../src/demo/random.ts';
import { addDecimal, parseDecimal } from '../../src/core/decimal.ts';

/**
 * Synthetic history filled exactly as readHistory and readLatencyHistograms would fill it from
 * rows, so the pure chart path (chartSeries → spec → PNG) runs on known data.
 */
export interface Traffic {
  /** Per bucket index → what the candidate does in it (defaults: healthy). */
  candidate?: (i: number) => { p95Ms?: number; failure?: number; cost?: number };
  vouchers?: (i: number) => number;
}

export const START = Date.UTC(2026, 10, 30, 9, 0);

function syntheticHistory(plan: Plan, hours: number, traffic: Traffic = {}, seed = 7) {
  const step = plan.evaluateEveryMs;
  const lead = 3_600_000; // one longest window before the chart's first evaluation
  const length = (hours * 3_600_000 + lead) / step;
  const series = emptySeries(START - lead, step, length);
  const hist: Histograms = { from: emptyHistograms(length), to: emptyHistograms(length) };
  const rnd = new Random(seed);
  const add = (s: ProviderSeries, h: Histograms['from'], i: number, latency: number, failed: boolean, cost: number) => {
    s.requests[i]++;
    if (failed) s.failures[i]++;
    s.latencySamples[i]++;
    const th = plan.redLines.p95LatencyMs.threshold;
    if (latency >= th) {
      s.latencyAtOrAbove[i]++;
      s.latencyAboveMin[i] = Number.isNaN(s.latencyAboveMin[i]) ? latency : Math.min(s.latencyAboveMin[i], latency);
    } else s.latencyBelowMax[i] = Number.isNaN(s.latencyBelowMax[i]) ? latency : Math.max(s.latencyBelowMax[i], latency);
    const c = parseDecimal(cost.toFixed(6));
    s.costSum[i] = s.costSum[i] ? addDecimal(s.costSum[i]!, c) : c;
    s.costSamples[i]++;
    h[i].set(binOf(latency), (h[i].get(binOf(latency)) ?? 0) + 1);
  };
  for (let i = 0; i < length; i++) {
    const c = { p95Ms: 4000, failure: 0.005, cost: 0.0034, ...traffic.candidate?.(i) };
    // Latencies log-normal-ish around a median so that the 95th percentile lands near p95Ms.
    const latency = (p95: number) => Math.max(50, (p95 / 1.9) * Math.exp(0.39 * rnd.normal()));
    for (let n = 0; n < 30; n++) add(series.to, hist.to, i, latency(c.p95Ms), rnd.chance(c.failure), c.cost * (0.9 + 0.2 * rnd.next()));
    for (let n = 0; n < 30; n++) add(series.from, hist.from, i, latency(5000), rnd.chance(0.006), 0.004 * (0.9 + 0.2 * rnd.next()));
    series.genOk[i] = 58;
    series.vouchers[i] = traffic.vouchers?.(i) ?? (rnd.chance(0.5) ? 1 : 0);
  }
  return { series, hist, leadBuckets: lead / step };
}

export function syntheticChart(
  traffic: Traffic = {},
  hours = 3,
  plan: Plan = defaultPlan(),
): { plan: Plan; data: ChartSeries; series: BucketSeries } {
  const { series, hist, leadBuckets } = syntheticHistory(plan, hours, traffic);
  const windows = new SeriesWindows(plan, series);
  return { plan, data: chartSeries(windows, hist, leadBuckets - 1 + plan.evaluateEveryMs / series.stepMs, 0.004), series };
}
