import type { Plan } from './plan.ts';

/** One key on which two plans disagree, with each side's value (undefined where a side lacks it). */
export interface PlanDifference {
  key: string;
  a: unknown;
  b: unknown;
}

/**
 * The keys on which two plans differ, compared as parsed (defaults filled in, durations in
 * milliseconds), so "60s" against "1m" or an omitted default is no difference. Keys are paths
 * like `redLines.p95LatencyMs.threshold` or `stages[1].weights.runware`, in the plan's order.
 */
export function planDifferences(a: Plan, b: Plan): PlanDifference[] {
  const out: PlanDifference[] = [];
  walk(strip(a), strip(b), '', out);
  return out;
}

// The source document is what the values were parsed from, not a setting.
const strip = ({ document: _document, ...rest }: Plan) => rest;

function walk(a: unknown, b: unknown, path: string, out: PlanDifference[]): void {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) walk(a[i], b[i], `${path}[${i}]`, out);
    return;
  }
  if (isObject(a) && isObject(b)) {
    const keys = [...Object.keys(a), ...Object.keys(b).filter((k) => !(k in a))];
    for (const k of keys) walk(a[k], b[k], path ? `${path}.${k}` : k, out);
    return;
  }
  if (!Object.is(a, b)) out.push({ key: path, a, b });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
