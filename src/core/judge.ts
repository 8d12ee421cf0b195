import type { Plan } from '../plan/plan.ts';
import { routeWindow, statsOf, type MetricsSnapshot } from './metrics.ts';
import type { LineEvaluation } from './red-lines.ts';
import type { Versus } from './compare/interval.ts';
import { failureDifference, voucherShift } from './compare/proportions.ts';
import { p95Ratio, type P95Sample } from './compare/quantile.ts';
import { clusteredCostRatio, type CostCluster } from './compare/means.ts';
import { failureSequential, latencySequential, type LogMoments, type SequentialResult } from './compare/sequential.ts';
import { sharedBreach } from './compare/shared-breach.ts';

/*
 * The judge: Runware against FAL in the windows the guard already reads. The red lines stay the
 * rule for rolling back; this says, next to each, how Runware compares with FAL (and with itself
 * before D1 for vouchers), whether FAL breaches too (a shared cause), and, over the whole stage,
 * an always-valid verdict on failures and latency. Pure: the guard hands it what it read.
 */

/** What the per-minute cache knows beyond the windows' sums (rolling-windows.ts judgeInputs). */
export interface JudgeInputs {
  /** Order statistics of each provider's latencies in the p95 window. */
  p95: Record<string, P95Sample | null>;
  /** Each provider's cost sum and count per minute of the cost window. */
  costClusters: Record<string, CostCluster[]>;
}

/** Regenerate vouchers and gen_ok in the hour before D1: the voucher rate's own baseline. */
export interface VoucherBaseline {
  vouchers: number;
  genOk: number;
}

/** Each evaluation with the comparison for its metric and whether FAL breaches too. */
export function judgeLines(
  plan: Plan,
  snapshot: MetricsSnapshot,
  lines: LineEvaluation[],
  inputs: JudgeInputs | null,
  before: VoucherBaseline | null,
): LineEvaluation[] {
  const confidence = plan.compare.confidence;
  return lines.map((line) => {
    if (line.state === 'error') return line;
    const w = routeWindow(snapshot, line.windowMs);
    const to = statsOf(w, plan.to);
    const from = statsOf(w, plan.from);
    let versus: Versus | null = null;
    switch (line.name) {
      case 'failureRatePercent':
        versus = {
          kind: 'failures',
          comparison: failureDifference(
            { events: to.failures, trials: to.requests },
            { events: from.failures, trials: from.requests },
            confidence,
          ),
        };
        break;
      case 'p95LatencyMs': {
        const r = inputs?.p95[plan.to];
        const f = inputs?.p95[plan.from];
        if (r && f) versus = { kind: 'p95', comparison: p95Ratio(r, f, confidence) };
        break;
      }
      case 'costPerImageRatio': {
        const r = inputs?.costClusters[plan.to];
        const f = inputs?.costClusters[plan.from];
        if (r && f) versus = { kind: 'cost', comparison: clusteredCostRatio(r, f, confidence) };
        break;
      }
      case 'regenerateRatePercent': {
        const v = snapshot.vouchers.find((x) => x.windowMs === line.windowMs);
        if (v && before)
          versus = {
            kind: 'vouchers',
            comparison: voucherShift(
              { events: v.vouchers, trials: v.genOk },
              { events: before.vouchers, trials: before.genOk },
              confidence,
            ),
          };
        break;
      }
    }
    const judged: LineEvaluation = versus ? { ...line, versus } : line;
    return sharedBreach(plan, judged) ? { ...judged, shared: true } : judged;
  });
}

/** One provider's rows since the stage began: additive per minute. */
export interface StageProviderSums {
  requests: number;
  failures: number;
  latency: LogMoments;
}

/** The stage's sums so far, through the last settled minute added (epoch ms, exclusive). */
export interface StageSums {
  runId: number;
  stage: string;
  through: number;
  to: StageProviderSums;
  from: StageProviderSums;
}

export const emptyProviderSums = (): StageProviderSums => ({ requests: 0, failures: 0, latency: { n: 0, sumLog: 0, sumLogSquares: 0 } });

export function addProviderSums(a: StageProviderSums, b: StageProviderSums): StageProviderSums {
  return {
    requests: a.requests + b.requests,
    failures: a.failures + b.failures,
    latency: {
      n: a.latency.n + b.latency.n,
      sumLog: a.latency.sumLog + b.latency.sumLog,
      sumLogSquares: a.latency.sumLogSquares + b.latency.sumLogSquares,
    },
  };
}

/** What the guard keeps of the judge between evaluations (in rollout.guard_state). */
export interface StageJudge {
  sums: StageSums;
  verdicts: StageVerdicts;
}

export interface StageVerdicts {
  failures: SequentialResult;
  latency: SequentialResult;
  /** Runware requests per minute over the stage so far, for "~T at the current rate". */
  runwarePerMinute: number | null;
  /**
   * What the verdicts count: the stage's whole minutes [from, through), each added once it has
   * settled (settleMs after it ends). ISO; absent in guard state saved before it was kept.
   */
  counted?: { from: string; through: string; settleMs: number };
  at: string;
}

/** The always-valid comparisons over the stage so far. */
export function stageVerdicts(plan: Plan, sums: StageSums, stageStartedAt: Date, now: Date, settleMs: number): StageVerdicts {
  const { confidence, minSamples, failureMarginPp, latencyMarginRatio } = plan.compare;
  const from = Math.min(sums.through, Math.ceil(stageStartedAt.getTime() / 60_000) * 60_000);
  const minutes = (sums.through - from) / 60_000;
  return {
    failures: failureSequential(
      { events: sums.to.failures, trials: sums.to.requests },
      { events: sums.from.failures, trials: sums.from.requests },
      { confidence, minSamples, marginPp: failureMarginPp },
    ),
    latency: latencySequential(sums.to.latency, sums.from.latency, { confidence, minSamples, marginRatio: latencyMarginRatio }),
    runwarePerMinute: minutes >= 1 ? sums.to.requests / minutes : null,
    counted: { from: new Date(from).toISOString(), through: new Date(sums.through).toISOString(), settleMs },
    at: now.toISOString(),
  };
}
