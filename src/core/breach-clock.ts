import { differenceInMilliseconds } from 'date-fns/differenceInMilliseconds';
import type { Plan, RedLineName } from '../plan/plan.ts';
import { RED_LINES, longestForMs } from '../plan/plan.ts';
import type { LineEvaluation, LineState } from './red-lines.ts';
import type { StageJudge } from './judge.ts';

/**
 * Prometheus `for:` semantics, kept in Postgres so a restart does not reset them:
 * a red line fires when every evaluation since `breachSince` was a breach and `for` has passed.
 * ok and no_data reset the clock; an error (the query failed) neither resets nor advances it,
 * so an outage cannot hide a breach nor invent one.
 */
export interface LineClock {
  state: LineState;
  breachSince: string | null;
  lastEvaluatedAt: string;
}

/** Tracks a candidate that should get traffic but gets too little to judge. */
interface TrafficClock {
  thinSince: string | null;
  alerted: boolean;
}

export interface GuardClocks {
  lines: Partial<Record<RedLineName, LineClock>>;
  traffic: TrafficClock;
  /** Shadow mode: red lines whose would-be rollback was already announced. */
  shadowFired: RedLineName[];
  /** Why the last evaluation could not read the metrics, so the alert is sent once. */
  metricsError?: string | null;
  /** The judge's sums over the stage and its verdicts (core/judge.ts). */
  judge?: StageJudge | null;
  /** Red lines held (not rolled back) because FAL breaches them too, already alerted. */
  sharedHeld?: RedLineName[];
}

export const emptyClocks = (): GuardClocks => ({ lines: {}, traffic: { thinSince: null, alerted: false }, shadowFired: [] });

export type ClockEvent =
  | { kind: 'breach_started'; line: LineEvaluation; forMs: number }
  | { kind: 'breach_recovered'; line: LineEvaluation; breachSince: string }
  | { kind: 'no_traffic'; thinSinceMs: number; candidateRequests: number }
  | { kind: 'traffic_restored' };

export interface ClockStep {
  clocks: GuardClocks;
  events: ClockEvent[];
  /** Red lines whose breach has held for their whole `for` (first = longest held). */
  fired: { line: LineEvaluation; breachSince: string; heldMs: number }[];
}

export function advanceClocks(plan: Plan, prev: GuardClocks, evaluations: LineEvaluation[], now: Date, candidateWeight: number): ClockStep {
  const at = now.toISOString();
  const lines: GuardClocks['lines'] = {};
  const events: ClockEvent[] = [];
  const fired: ClockStep['fired'] = [];
  for (const ev of evaluations) {
    const before = prev.lines[ev.name];
    const forMs = plan.redLines[ev.name].forMs;
    let breachSince = before?.breachSince ?? null;
    if (ev.state === 'breach') {
      if (!breachSince) {
        breachSince = at;
        events.push({ kind: 'breach_started', line: ev, forMs });
      }
      const heldMs = differenceInMilliseconds(now, breachSince);
      if (heldMs >= forMs) fired.push({ line: ev, breachSince, heldMs });
    } else if (ev.state === 'ok' || ev.state === 'no_data') {
      if (breachSince) events.push({ kind: 'breach_recovered', line: ev, breachSince });
      breachSince = null;
    }
    lines[ev.name] = { state: ev.state, breachSince, lastEvaluatedAt: at };
  }
  fired.sort((a, b) => b.heldMs - a.heldMs || RED_LINES.indexOf(a.line.name) - RED_LINES.indexOf(b.line.name));

  // Traffic: judged on the shortest window; errors leave the clock alone like the red lines.
  const traffic = { ...prev.traffic };
  const shortest = [...evaluations].filter((e) => e.state !== 'error').sort((a, b) => a.windowMs - b.windowMs)[0];
  if (shortest) {
    const thin = candidateWeight > 0 && shortest.candidateRequests < plan.minSamples;
    if (!thin) {
      if (traffic.alerted) events.push({ kind: 'traffic_restored' });
      traffic.thinSince = null;
      traffic.alerted = false;
    } else {
      traffic.thinSince ??= at;
      const thinMs = differenceInMilliseconds(now, traffic.thinSince);
      if (!traffic.alerted && thinMs > longestForMs(plan)) {
        traffic.alerted = true;
        events.push({ kind: 'no_traffic', thinSinceMs: thinMs, candidateRequests: shortest.candidateRequests });
      }
    }
  }
  return { clocks: { lines, traffic, shadowFired: prev.shadowFired }, events, fired };
}
