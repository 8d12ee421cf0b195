import defaultPlanJson from '../plan/default-plan.json' with { type: 'json' };
import { parsePlan, type Plan } from '../plan/plan.ts';
import { parseDuration } from '../plan/duration.ts';

/** At --speed max the soaks are divided by this (D1 1h → 1s): the split and the red lines still need minutes to judge. */
const MAX_SOAK_DIVISOR = 3600;

/**
 * The seed plan with its soaks divided by the speed factor; everything the guard judges by
 * (red lines, windows, `for`, evaluateEvery, minSamples, approvals) stays the seed's own.
 */
export function demoPlan(speed: number | null): { plan: Plan; soaks: { stage: string; seedMs: number; demoMs: number }[] } {
  const divisor = speed ?? MAX_SOAK_DIVISOR;
  const json = structuredClone(defaultPlanJson) as { stages: { name: string; soak?: string }[] };
  const soaks: { stage: string; seedMs: number; demoMs: number }[] = [];
  for (const s of json.stages) {
    if (!s.soak) continue;
    const seedMs = parseDuration(s.soak)!;
    const seconds = Math.max(1, Math.round(seedMs / divisor / 1000));
    s.soak = `${seconds}s`;
    soaks.push({ stage: s.name, seedMs, demoMs: seconds * 1000 });
  }
  return { plan: parsePlan(json, 'demo plan'), soaks };
}
