import { isBreach, type LineState } from '../red-lines.ts';
import type { RedLineName } from '../../plan/plan.ts';
import type { OnSharedBreach } from '../../plan/compare-schema.ts';

/** What the predicate reads of a red-line evaluation (LineEvaluation has all but fromSamples). */
export interface SharedBreachLine {
  name: RedLineName;
  state: LineState;
  threshold: number;
  /** FAL's value of the same metric in the same window; null when FAL has none (vouchers never do). */
  fromValue: number | null;
  /** FAL's rows behind fromValue. When given, fewer than minSamples means FAL's value is not trusted. */
  fromSamples?: number;
}

/**
 * Runware breaches a red line and FAL, judged by the same threshold and comparison in the same
 * window, breaches it too: the cause is probably shared (network, database, the app), and a
 * rollback to FAL may not help.
 */
export function sharedBreach(plan: { minSamples: number }, line: SharedBreachLine): boolean {
  if (line.state !== 'breach' || line.fromValue === null) return false;
  if (line.fromSamples !== undefined && line.fromSamples < plan.minSamples) return false;
  return isBreach(line.name, line.fromValue, line.threshold);
}

/** Whether the guard rolls back on this breach: always when not shared, else as the plan says. */
export const rollsBackOn = (shared: boolean, onSharedBreach: OnSharedBreach): boolean => !shared || onSharedBreach === 'rollback';
