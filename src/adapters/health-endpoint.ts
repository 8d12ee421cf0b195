import { z } from 'zod';
import type { Plan } from '../plan/plan.ts';
import { weightsProblem, ordered } from '../plan/plan.ts';
import type { HealthReading, ProviderHealth } from '../core/health.ts';
import type { HealthSource } from '../engine/ports.ts';

const providerSchema = z.looseObject({
  ok: z.boolean(),
  latency_ms: z.number().nullable().optional(),
  error: z.unknown().optional(),
});

const bodySchema = z.looseObject({
  providers: z.looseObject({
    config: z.looseObject({ weights: z.unknown().optional() }).optional(),
  }),
});

const MAX_BODY = 64 * 1024;

/** GET HEALTH_URL with a timeout; never throws. */
export function healthEndpoint(plan: Plan, url: string | undefined, timeoutMs = 3_000): HealthSource {
  return {
    async read(): Promise<HealthReading> {
      if (!url) return { kind: 'not_configured' };
      const checkedAt = new Date().toISOString();
      let text: string;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
        text = (await res.text()).slice(0, MAX_BODY);
        if (!res.ok) return { kind: 'unreachable', problem: `HTTP ${res.status}`, checkedAt };
      } catch (err) {
        const e = err as Error & { cause?: { code?: string; message?: string } };
        const problem = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
        return { kind: 'unreachable', problem, checkedAt };
      }
      return parseHealth(plan, text, checkedAt);
    },
  };
}

export function parseHealth(plan: Plan, text: string, checkedAt: string): HealthReading {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'invalid', problem: 'the answer is not JSON', checkedAt };
  }
  const body = bodySchema.safeParse(json);
  if (!body.success) return { kind: 'invalid', problem: 'the answer has no "providers" object', checkedAt };
  const providers: Record<string, ProviderHealth> = {};
  for (const name of [plan.from, plan.to]) {
    const p = providerSchema.safeParse(body.data.providers[name]);
    if (p.success) {
      const error = p.data.error === null || p.data.error === undefined ? null : String(p.data.error).slice(0, 200);
      providers[name] = { ok: p.data.ok, latencyMs: p.data.latency_ms ?? null, error };
    }
  }
  const raw = body.data.providers.config?.weights;
  const problem = raw === undefined ? 'no providers.config.weights' : weightsProblem(raw, plan.from, plan.to);
  return {
    kind: 'read',
    providers,
    weights: problem ? null : ordered(raw as Record<string, number>, plan.from, plan.to),
    weightsProblem: problem,
    checkedAt,
  };
}
