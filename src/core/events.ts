import type { RedLineName, Weights } from '../plan/plan.ts';
import type { LineEvaluation } from './red-lines.ts';
import type { RequestView } from './views.ts';
import type { ReportSnapshot } from './report.ts';

/**
 * What the front ends must show, written to the outbox in the same transaction as the change.
 * Stored as JSON: dates are ISO strings here.
 */
export type RolloutEvent =
  | {
      kind: 'request_opened';
      request: RequestJson;
      fromWeights: Weights;
      toWeights: Weights;
      needed: number;
      soakDone: boolean;
      lines: LineEvaluation[];
    }
  | { kind: 'request_updated'; request: RequestJson; needed: number }
  | {
      kind: 'stage_started';
      runId: number;
      stage: string;
      weights: Weights;
      previousWeights: Weights;
      by: string;
      approvers: string[];
      forced: boolean;
      at: string;
    }
  | { kind: 'breach_started'; runId: number; stage: string; line: LineEvaluation; forMs: number; at: string; shadow: boolean }
  | { kind: 'breach_recovered'; runId: number; stage: string; line: LineEvaluation; breachSince: string; at: string }
  | {
      kind: 'auto_rollback';
      runId: number;
      stage: string;
      line: LineEvaluation;
      heldMs: number;
      others: RedLineName[];
      weights: Weights;
      /** Shadow mode: nothing was written; this is what would have happened. */
      shadow: boolean;
      at: string;
    }
  | { kind: 'shared_hold'; runId: number; stage: string; line: LineEvaluation; heldMs: number; at: string }
  | {
      kind: 'manual_rollback';
      runId: number;
      stage: string;
      by: string;
      via: string;
      reason: string | null;
      weights: Weights;
      byHand: boolean;
      at: string;
    }
  | {
      kind: 'no_traffic';
      runId: number;
      stage: string;
      provider: string;
      weight: number;
      candidateRequests: number;
      thinForMs: number;
      at: string;
    }
  | { kind: 'traffic_restored'; runId: number; stage: string; provider: string; at: string }
  | { kind: 'flag_drift'; runId: number; stage: string; expected: Weights; found: string; problem: string | null; at: string }
  | { kind: 'guard_error'; runId: number; stage: string; message: string; at: string }
  | { kind: 'guard_recovered'; runId: number; stage: string; at: string }
  | { kind: 'completed'; runId: number; by: string; at: string }
  | {
      kind: 'plan_differs';
      runId: number;
      stage: string;
      /** Where the replica runs (host and pid), so people know which one to fix. */
      replica: string;
      /** Each differing key: the run's value and the replica's own (ROLLOUT_PLAN's). */
      differences: { key: string; run: unknown; replica: unknown }[];
      at: string;
    }
  /** The shared database is back after an announced outage: recorded once, by whichever replica reached it first. */
  | { kind: 'database_back'; since: string; at: string; outageMs: number }
  | { kind: 'report'; runId: number; stage: string; current: ReportSnapshot; previous: ReportSnapshot | null; at: string };

export type RequestJson = Omit<RequestView, 'requestedAt' | 'decidedAt'> & { requestedAt: string; decidedAt: string | null };

export const requestJson = (r: RequestView): RequestJson => ({
  ...r,
  requestedAt: r.requestedAt.toISOString(),
  decidedAt: r.decidedAt ? r.decidedAt.toISOString() : null,
});
