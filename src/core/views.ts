import type { GuardClocks } from './breach-clock.ts';
import type { LineEvaluation } from './red-lines.ts';
import type { Weights } from '../plan/plan.ts';

/** Typed records the core hands to renderers; no Slack, no SQL. */

export interface Actor {
  /** Slack user ID, or a local user name for the console and CLI. */
  id: string;
  via: 'slack' | 'console' | 'cli' | 'guard' | 'demo';
  /**
   * Console and CLI only: where the command was typed. The OS user and host are what the machine
   * says; `claimed` is a name the person typed (`--as`, `as <user>`, ROLLOUT_USER) that nobody
   * verified. Every audit row of a local actor records all three.
   */
  origin?: LocalOrigin;
}

export interface LocalOrigin {
  osUser: string;
  host: string;
  claimed: string | null;
}

export interface RunView {
  id: number;
  state: string;
  startedAt: Date;
  startedBy: string;
  stageStartedAt: Date;
  writtenWeights: Weights;
  baselineCost: number | null;
  baselineNote: string;
  /** When the guard last tried to measure the baseline; null before the first try. */
  baselineCheckedAt: Date | null;
  /** Regenerate vouchers and gen_ok in the hour before the run started (the judge's voucher baseline); null until captured. */
  baselineVouchers: { vouchers: number; genOk: number } | null;
  endedAt: Date | null;
  endReason: string | null;
  driftReported: string | null;
}

type RequestStatus = 'pending' | 'approved' | 'rejected' | 'stale' | 'expired';

export interface RequestView {
  id: number;
  runId: number | null;
  fromState: string;
  toStage: string;
  forced: boolean;
  requestedBy: string;
  requestedAt: Date;
  status: RequestStatus;
  approvals: { by: string; at: string }[];
  decidedBy: string | null;
  decidedAt: Date | null;
  decisionNote: string | null;
}

export interface AuditEntry {
  id: number;
  at: Date;
  runId: number | null;
  actor: string;
  via: string;
  action: string;
  outcome: string;
  detail: Record<string, unknown>;
  origin?: LocalOrigin;
}

/** The guard's latest evaluation of a run, and the clocks it keeps between evaluations. */
export interface GuardView {
  runId: number;
  evaluatedAt: Date;
  clocks: GuardClocks;
  evaluations: LineEvaluation[];
}
