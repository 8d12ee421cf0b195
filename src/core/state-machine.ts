import { addMilliseconds } from 'date-fns/addMilliseconds';
import { differenceInMilliseconds } from 'date-fns/differenceInMilliseconds';
import type { Plan, Stage } from '../plan/plan.ts';
import { stageIndex } from '../plan/plan.ts';
import { formatDuration } from '../plan/duration.ts';

/**
 * idle → d1 → d2 → d3 → complete; any active stage → rolled_back; rolled_back → d1.
 * A run is one attempt from D1 to its end; "idle" means there has never been one.
 */
export type RunState = string;
export const COMPLETE = 'complete';
export const ROLLED_BACK = 'rolled_back';

export interface RunPosition {
  state: RunState;
  stageStartedAt: Date;
}

export const isActiveStage = (plan: Plan, state: RunState) => stageIndex(plan, state) >= 0;

export type RefusalCode =
  | 'not_admin'
  | 'skip'
  | 'same_stage'
  | 'soak'
  | 'breaching'
  | 'no_evidence'
  | 'unwatched'
  | 'not_proven'
  | 'not_here'
  | 'drift'
  | 'pending'
  | 'no_pending'
  | 'self_approval'
  | 'already_approved'
  | 'stale'
  | 'expired'
  | 'decided'
  | 'not_active'
  | 'not_last_stage'
  | 'unknown_request';

export interface Refusal {
  ok: false;
  code: RefusalCode;
  message: string;
}

export const refuse = (code: RefusalCode, message: string): Refusal => ({ ok: false, code, message });

/** The stage a promotion from here may go to, or null at the end of the road. */
export function nextStage(plan: Plan, current: RunPosition | null): Stage | null {
  if (!current || current.state === ROLLED_BACK) return plan.stages[0];
  const i = stageIndex(plan, current.state);
  return i >= 0 && i + 1 < plan.stages.length ? plan.stages[i + 1] : null;
}

/** Time left in the current stage's soak; 0 when it is over or the stage has none. */
export function soakLeftMs(plan: Plan, current: RunPosition, now: Date): number {
  const stage = plan.stages[stageIndex(plan, current.state)];
  if (!stage?.soakMs) return 0;
  return Math.max(0, differenceInMilliseconds(addMilliseconds(current.stageStartedAt, stage.soakMs), now));
}

/** Plain words for what may be done now, used in refusals and status. */
export function allowedNow(plan: Plan, current: RunPosition | null, now: Date): string[] {
  const out: string[] = [];
  const next = nextStage(plan, current);
  const active = current !== null && isActiveStage(plan, current.state);
  if (next) {
    const left = active ? soakLeftMs(plan, current!, now) : 0;
    out.push(left > 0 ? `${next.name} after the soak (${formatDuration(left)} left, or --force)` : next.name);
  }
  if (active && !next) out.push(COMPLETE);
  if (active || current?.state === COMPLETE) out.push('rollback');
  return out;
}

const describeState = (current: RunPosition | null) =>
  !current
    ? 'nothing has started'
    : current.state === ROLLED_BACK
      ? 'the last run was rolled back'
      : current.state === COMPLETE
        ? 'the rollout is complete'
        : `${current.state} is active`;

/** May `target` be requested now? Pure: the caller supplies the run and the clock. */
export function checkPromotion(
  plan: Plan,
  current: RunPosition | null,
  target: string,
  now: Date,
  force: boolean,
): { ok: true; stage: Stage } | Refusal {
  const next = nextStage(plan, current);
  const allowed = allowedNow(plan, current, now);
  const allowedText = allowed.length ? `Allowed now: ${allowed.join(', ')}.` : 'Nothing can be promoted now.';
  if (current && current.state === target) return refuse('same_stage', `${target} is already active. ${allowedText}`);
  if (!next || next.name !== target) {
    return refuse('skip', `Cannot go to ${target}: ${describeState(current)}, and stages go in order. ${allowedText}`);
  }
  if (current && isActiveStage(plan, current.state)) {
    const left = soakLeftMs(plan, current, now);
    if (left > 0 && !force) {
      return refuse(
        'soak',
        `${current.state} has soaked ${formatDuration(differenceInMilliseconds(now, current.stageStartedAt))} of ${formatDuration(plan.stages[stageIndex(plan, current.state)].soakMs!)}; ${formatDuration(left)} left. Wait, or add --force (audited).`,
      );
    }
  }
  return { ok: true, stage: next };
}

export function checkComplete(plan: Plan, current: RunPosition | null): { ok: true } | Refusal {
  const last = plan.stages[plan.stages.length - 1];
  if (!current || current.state !== last.name) {
    return refuse('not_last_stage', `complete ends the watch after ${last.name}; now ${describeState(current)}.`);
  }
  return { ok: true };
}

export function checkRollback(plan: Plan, current: RunPosition | null): { ok: true } | Refusal {
  if (!current || !(isActiveStage(plan, current.state) || current.state === COMPLETE)) {
    return refuse(
      'not_active',
      `Nothing to roll back: ${describeState(current)}. The flag can still be set by hand (docs/operations.md, "Rolling back by hand").`,
    );
  }
  return { ok: true };
}
