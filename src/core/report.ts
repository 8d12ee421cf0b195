import type { Plan } from '../plan/plan.ts';
import { RED_LINES, type RedLineName } from '../plan/plan.ts';
import type { LineEvaluation } from './red-lines.ts';
import { trafficSplit, type MetricsSnapshot, routeWindow } from './metrics.ts';

/** What a periodic report shows, stored so the next report can say what changed. */
export interface ReportSnapshot {
  at: string;
  lines: LineEvaluation[];
  split: { windowMs: number; total: number; shares: Record<string, number> };
}

export function reportSnapshot(plan: Plan, snapshot: MetricsSnapshot, lines: LineEvaluation[]): ReportSnapshot {
  const split = trafficSplit(routeWindow(snapshot, plan.trafficWindowMs), plan.from, plan.to);
  return { at: snapshot.at.toISOString(), lines, split: { windowMs: plan.trafficWindowMs, total: split.total, shares: split.shares } };
}

/** Change of each red line's candidate value since the previous report; null when either side has none. */
export function reportDeltas(current: ReportSnapshot, previous: ReportSnapshot | null): Record<RedLineName, number | null> {
  return Object.fromEntries(
    RED_LINES.map((name) => {
      const now = current.lines.find((l) => l.name === name)?.value ?? null;
      const before = previous?.lines.find((l) => l.name === name)?.value ?? null;
      return [name, now !== null && before !== null ? now - before : null];
    }),
  ) as Record<RedLineName, number | null>;
}
