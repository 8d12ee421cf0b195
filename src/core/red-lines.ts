import type { Plan, RedLineName } from '../plan/plan.ts';
import { RED_LINES } from '../plan/plan.ts';
import { routeWindow, statsOf, type MetricsSnapshot } from './metrics.ts';
import type { Versus } from './compare/interval.ts';

export type LineState = 'ok' | 'breach' | 'no_data' | 'error';

export interface LineEvaluation {
  name: RedLineName;
  state: LineState;
  /** The metric for the candidate (for cost: the ratio to the baseline). */
  value: number | null;
  threshold: number;
  windowMs: number;
  /** Values behind the metric (latencies, requests, costs or gen_ok rows). */
  samples: number;
  /** Candidate gen_route rows in the window, the no-data gate. */
  candidateRequests: number;
  /** Rows whose value was unusable (missing, non-numeric, negative, absurd): skipped and counted. */
  skipped?: number;
  /** The same metric for `from`, for comparison only; never part of the verdict. */
  fromValue: number | null;
  /** `from`'s values behind fromValue, counted as `samples` is (absent for vouchers: all traffic). */
  fromSamples?: number;
  /** Runware against FAL (or, for vouchers, against the hour before D1), from the judge. */
  versus?: Versus;
  /** `from` breaches this red line too, in the same window: the cause is probably shared. */
  shared?: boolean;
  /** Cost only: the candidate's average cost and the baseline it is compared to. */
  cost?: { candidate: number | null; baseline: number | null };
  /** Why the state is no_data or error. */
  reason?: string;
}

export const RED_LINE_LABELS: Record<RedLineName, string> = {
  p95LatencyMs: 'p95 latency',
  failureRatePercent: 'failure rate',
  costPerImageRatio: 'cost per image',
  regenerateRatePercent: 'regenerate-voucher rate',
};

/** The seed's comparisons: p95 ≥, everything else strictly >. */
export function isBreach(name: RedLineName, value: number, threshold: number): boolean {
  return name === 'p95LatencyMs' ? value >= threshold : value > threshold;
}

const rate = (part: number, whole: number) => (whole > 0 ? (part * 100) / whole : null);

/** Evaluates every red line against one snapshot: ok / breach / no_data, never a thrown error. */
export function evaluateRedLines(plan: Plan, snapshot: MetricsSnapshot, baselineCost: number | null): LineEvaluation[] {
  return RED_LINES.map((name) => evaluateOne(plan, snapshot, baselineCost, name));
}

export function errorEvaluations(plan: Plan, reason: string): LineEvaluation[] {
  return RED_LINES.map((name) => ({
    name,
    state: 'error',
    value: null,
    threshold: plan.redLines[name].threshold,
    windowMs: plan.redLines[name].windowMs,
    samples: 0,
    candidateRequests: 0,
    fromValue: null,
    reason,
  }));
}

function evaluateOne(plan: Plan, snapshot: MetricsSnapshot, baselineCost: number | null, name: RedLineName): LineEvaluation {
  const spec = plan.redLines[name];
  const win = routeWindow(snapshot, spec.windowMs);
  const cand = statsOf(win, plan.to);
  const from = statsOf(win, plan.from);
  let value: number | null;
  let samples: number;
  let fromValue: number | null;
  let fromSamples: number | undefined;
  let cost: LineEvaluation['cost'];
  let missing: string | undefined;
  let skipped = 0;
  switch (name) {
    case 'p95LatencyMs':
      value = cand.p95LatencyMs;
      samples = cand.latencySamples;
      skipped = cand.latencySkipped;
      fromValue = from.p95LatencyMs;
      fromSamples = from.latencySamples;
      break;
    case 'failureRatePercent':
      value = rate(cand.failures, cand.requests);
      samples = cand.requests;
      fromValue = rate(from.failures, from.requests);
      fromSamples = from.requests;
      break;
    case 'costPerImageRatio':
      cost = { candidate: cand.avgCostPerImage, baseline: baselineCost };
      value = baselineCost && cand.avgCostPerImage !== null ? cand.avgCostPerImage / baselineCost : null;
      samples = cand.costSamples;
      skipped = cand.costSkipped;
      fromValue = baselineCost && from.avgCostPerImage !== null ? from.avgCostPerImage / baselineCost : null;
      fromSamples = from.costSamples;
      if (!baselineCost) missing = 'no baseline cost (set baselineCostPerImage, or let D1 measure it)';
      break;
    case 'regenerateRatePercent': {
      const v = snapshot.vouchers.find((w) => w.windowMs === spec.windowMs);
      if (!v) throw new Error(`no voucher window of ${spec.windowMs} ms in the snapshot`);
      value = rate(v.vouchers, v.genOk);
      samples = v.genOk;
      fromValue = null;
      break;
    }
  }
  const base = {
    name,
    threshold: spec.threshold,
    windowMs: spec.windowMs,
    samples,
    candidateRequests: cand.requests,
    fromValue,
    ...(fromSamples !== undefined ? { fromSamples } : {}),
    ...(cost ? { cost } : {}),
    ...(skipped ? { skipped } : {}),
  };
  if (missing) return { ...base, state: 'no_data', value: null, reason: missing };
  if (cand.requests < plan.minSamples) {
    return {
      ...base,
      state: 'no_data',
      value,
      reason: `${cand.requests} ${plan.providerNames[plan.to]} requests in the window, fewer than minSamples ${plan.minSamples}`,
    };
  }
  if (samples < plan.minSamples || value === null) {
    return { ...base, state: 'no_data', value, reason: `${samples} samples in the window, fewer than minSamples ${plan.minSamples}` };
  }
  return { ...base, state: isBreach(name, value, spec.threshold) ? 'breach' : 'ok', value };
}
