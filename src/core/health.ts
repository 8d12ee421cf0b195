import type { Plan, Weights } from '../plan/plan.ts';
import { sameWeights } from './weights.ts';

export interface ProviderHealth {
  ok: boolean;
  latencyMs: number | null;
  error: string | null;
}

/** The generation app's /api/health, read defensively: it may be down, slow or answer garbage. */
export type HealthReading =
  | { kind: 'not_configured' }
  | { kind: 'unreachable'; problem: string; checkedAt: string }
  | { kind: 'invalid'; problem: string; checkedAt: string }
  | { kind: 'read'; providers: Record<string, ProviderHealth>; weights: Weights | null; weightsProblem: string | null; checkedAt: string };

/** Both providers ok, as the seed's D1/D2 checklist asks (D3: the candidate only). */
export function providersOk(plan: Plan, h: HealthReading, providers = [plan.from, plan.to]): boolean {
  return h.kind === 'read' && providers.every((p) => h.providers[p]?.ok === true);
}

/** The app itself reports the weights the bot expects: the only proof the change took effect. */
export function healthConfirms(plan: Plan, h: HealthReading, expected: Weights): boolean {
  return h.kind === 'read' && h.weights !== null && sameWeights(plan, h.weights, expected);
}

export function healthSummary(plan: Plan, h: HealthReading): string {
  switch (h.kind) {
    case 'not_configured':
      return 'not configured (set HEALTH_URL)';
    case 'unreachable':
      return `unreachable: ${h.problem}`;
    case 'invalid':
      return `unusable answer: ${h.problem}`;
    case 'read': {
      const parts = [plan.from, plan.to].map((p) => {
        const s = h.providers[p];
        if (!s) return `${plan.providerNames[p]} missing`;
        return `${plan.providerNames[p]} ${s.ok ? 'ok' : `DOWN${s.error ? ` (${s.error})` : ''}`}${s.latencyMs !== null ? ` ${s.latencyMs} ms` : ''}`;
      });
      return parts.join(', ');
    }
  }
}
