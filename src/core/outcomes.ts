import type { RefusalCode } from './state-machine.ts';
import type { AuditEntry, RequestView, RunView } from './views.ts';
import type { StatusView } from './status.ts';
import type { Weights } from '../plan/plan.ts';
import type { BacktestResult } from './backtest.ts';

/** What a command did, typed; renderers turn it into text or Block Kit. */
export type Outcome =
  | { kind: 'status'; status: StatusView }
  | { kind: 'help'; lines: string[] }
  | { kind: 'usage'; problem: string; lines: string[] }
  | { kind: 'refused'; code: RefusalCode; message: string }
  | { kind: 'requested'; request: RequestView; needed: number }
  | { kind: 'approval_recorded'; request: RequestView; needed: number }
  | { kind: 'stage_started'; run: RunView; stage: string; weights: Weights; forced: boolean; approvers: string[]; request?: RequestView }
  | { kind: 'rejected'; request: RequestView }
  | { kind: 'rolled_back'; run: RunView; reason: string | null; weights: Weights }
  | { kind: 'completed'; run: RunView }
  | { kind: 'history'; entries: AuditEntry[] }
  | { kind: 'backtest'; result: BacktestResult & { rowsRead: number; tookMs: number }; requestedBy: string }
  | { kind: 'chart'; path: string; title: string; summary: string; bytes: number }
  | { kind: 'unavailable'; message: string }
  | { kind: 'error'; message: string };

/** Who should see the reply: the person who asked, the whole channel, or a thread in it (long reports). */
export interface Reply {
  outcome: Outcome;
  visibility: 'private' | 'channel' | 'thread';
}

export const privately = (outcome: Outcome): Reply => ({ outcome, visibility: 'private' });
