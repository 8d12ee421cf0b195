import { ordered, weightsProblem, type Plan, type Weights } from '../plan/plan.ts';

/**
 * Why the bot wrote the weights: the label at the end of the flag's description, exactly as the
 * runbook writes it — dashboards and people search for these strings. An automatic rollback is
 * the runbook's "(Rollback)"; the audit and the alert say it was automatic and why.
 */
export type WeightsLabel = { stage: string } | 'Rollback' | 'Manual Rollback';

/** Compact JSON with the seed's number style: 0.9 → 0.9, 0 → 0.0, 1 → 1.0. */
export function weightsText(plan: Plan, weights: Weights): string {
  const w = ordered(weights, plan.from, plan.to);
  const num = (v: number) => (Number.isInteger(v) ? v.toFixed(1) : String(v));
  return `{${Object.entries(w)
    .map(([k, v]) => `${JSON.stringify(k)}:${num(v)}`)
    .join(',')}}`;
}

const percent = (v: number) => `${Number((v * 100).toFixed(2))}%`;

/** "Provider weights: 90% FAL, 10% Runware (D1)", as the seed's SQL writes it. */
export function weightsDescription(plan: Plan, weights: Weights, label: WeightsLabel): string {
  const tag = typeof label === 'string' ? label : label.stage.toUpperCase();
  const parts = [plan.from, plan.to].map((p) => `${percent(weights[p])} ${plan.providerNames[p]}`);
  return `Provider weights: ${parts.join(', ')} (${tag})`;
}

/** "FAL 90% / Runware 10%" for people. */
export function weightsSummary(plan: Plan, weights: Weights): string {
  return [plan.from, plan.to].map((p) => `${plan.providerNames[p]} ${percent(weights[p])}`).join(' / ');
}

export const sameWeights = (plan: Plan, a: Weights, b: Weights) =>
  Math.abs(a[plan.from] - b[plan.from]) < 1e-9 && Math.abs(a[plan.to] - b[plan.to]) < 1e-9;

export interface FlagRow {
  flagValueText: string | null;
  description: string | null;
  updatedAt: Date | null;
}

/** What the feature_flags row says, read tolerantly: it may be missing or hand-edited into anything. */
export type FlagReading =
  | { kind: 'missing'; weights: Weights }
  | { kind: 'ok'; weights: Weights; row: FlagRow }
  | { kind: 'malformed'; problem: string; row: FlagRow };

export function readFlag(plan: Plan, row: FlagRow | null): FlagReading {
  // No row means the app uses its default: all traffic on `from`.
  if (!row) return { kind: 'missing', weights: ordered({ [plan.from]: 1, [plan.to]: 0 }, plan.from, plan.to) };
  const text = row.flagValueText;
  if (text === null || text.trim() === '') return { kind: 'malformed', problem: 'flag_value_text is empty', row };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: 'malformed', problem: `flag_value_text is not JSON: ${clip(text)}`, row };
  }
  const problem = weightsProblem(parsed, plan.from, plan.to);
  if (problem) return { kind: 'malformed', problem: `flag_value_text ${clip(text)}: ${problem}`, row };
  return { kind: 'ok', weights: ordered(parsed as Weights, plan.from, plan.to), row };
}

const clip = (text: string) => (text.length > 80 ? `${JSON.stringify(text.slice(0, 77))}…` : JSON.stringify(text));
