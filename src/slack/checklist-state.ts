import type { Plan } from '../plan/plan.ts';
import type { RolloutEvent } from '../core/events.ts';
import type { ChecklistItem, ChecklistTracking } from '../render/checklist.ts';
import { checklistMessage } from '../render/blocks/checklist.ts';
import type { Message } from '../render/blocks/limits.ts';

/** What rollout.slack_messages keeps for a stage's checklist, so any replica can redraw it. */
export interface ChecklistState {
  started: Extract<RolloutEvent, { kind: 'stage_started' }>;
  items: ChecklistItem[] | null;
  ready: boolean;
  tracking: ChecklistTracking;
  pendingRequest: { id: number; stage: string } | null;
  checkedAt: string | null;
  ended: string | null;
}

export const newChecklist = (started: ChecklistState['started']): ChecklistState => ({
  started,
  items: null,
  ready: false,
  tracking: { healthConfirmedAt: null },
  pendingRequest: null,
  checkedAt: null,
  ended: null,
});

export const drawChecklist = (plan: Plan, s: ChecklistState): Message =>
  checklistMessage(plan, { ...s, checkedAt: s.checkedAt ? new Date(s.checkedAt) : null });

/** What the rollback alert keeps, so the refresher can add the health endpoint's confirmation. */
export interface RollbackState {
  event: Extract<RolloutEvent, { kind: 'auto_rollback' | 'manual_rollback' }>;
  baseline: number | null;
  confirmation: string | null;
  confirmed: boolean;
  warned: boolean;
}
