import cron from 'node-cron';
import { z } from 'zod';
import defaultPlanJson from './default-plan.json' with { type: 'json' };
import { parseDuration } from './duration.ts';
import { compareSchema, onSharedBreachSchema, type CompareConfig, type OnSharedBreach } from './compare-schema.ts';

export const RED_LINES = ['p95LatencyMs', 'failureRatePercent', 'costPerImageRatio', 'regenerateRatePercent'] as const;
export type RedLineName = (typeof RED_LINES)[number];

/** Words the command grammar owns; a stage may not be named like one of them. */
const RESERVED = ['status', 'approve', 'reject', 'rollback', 'history', 'complete', 'help', 'backtest', 'chart', 'as'];

export type Weights = Record<string, number>;

export interface Stage {
  name: string;
  weights: Weights;
  /** null: no soak (the last stage is watched until `complete`). */
  soakMs: number | null;
}

interface RedLineSpec {
  threshold: number;
  windowMs: number;
  forMs: number;
}

export interface Plan {
  flagKey: string;
  from: string;
  to: string;
  providerNames: Record<string, string>;
  evaluateEveryMs: number;
  minSamples: number;
  approvals: number;
  requestTtlMs: number;
  reportCron: string;
  baselineCostPerImage: number | null;
  baselineLookbackMs: number;
  autoRollback: boolean;
  /** Runware against FAL: confidence, margins, minimum sample, and whether "not worse" gates promotion. */
  compare: CompareConfig;
  /** FAL breaching the same red line in the same window: roll back anyway (the runbook) or hold and alert. */
  onSharedBreach: OnSharedBreach;
  stages: Stage[];
  rollbackWeights: Weights;
  redLines: Record<RedLineName, RedLineSpec>;
  trafficWindowMs: number;
  /** Largest gap, as a share of traffic, between the configured and the observed split. */
  splitTolerance: number;
  healthConfirmWithinMs: number;
  /** Values above these are absurd: skipped and counted, never averaged. */
  maxLatencyMs: number;
  maxCostPerImage: number;
  /** The JSON document this plan was parsed from: stored with each run, re-parsed by the CLI. */
  document: unknown;
}

const duration = () =>
  z.unknown().transform((text, ctx) => {
    const ms = typeof text === 'string' ? parseDuration(text) : null;
    if (ms === null || ms === 0) {
      ctx.addIssue({ code: 'custom', message: `must be a duration like "30s", "5m" or "1h" (got ${JSON.stringify(text)})` });
      return z.NEVER;
    }
    return ms;
  });

const weightsSchema = z.record(z.string(), z.number({ error: 'each weight must be a number' }));

const redLineSchema = z.strictObject({
  threshold: z.number().positive('must be a positive number'),
  window: duration(),
  for: duration(),
});

const planSchema = z
  .strictObject({
    flagKey: z.string().min(1, 'must name the feature_flags row'),
    from: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'must be a lower-case provider key like "fal"'),
    to: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'must be a lower-case provider key like "runware"'),
    providerNames: z.record(z.string(), z.string().min(1)).optional(),
    evaluateEvery: duration().refine((ms) => ms >= 5_000, 'must be at least 5s'),
    minSamples: z.number().int('must be a whole number').min(1, 'must be at least 1'),
    approvals: z.number().int('must be a whole number').min(0, 'must be 0 or more').max(5, 'must be at most 5'),
    requestTtl: duration().prefault('1h'),
    reportCron: z.string().refine((expr) => cron.validate(expr), 'must be a cron expression like "*/15 * * * *"'),
    baselineCostPerImage: z.number().positive('must be a positive number, or null to measure it').nullable(),
    baselineLookback: duration().prefault('24h'),
    autoRollback: z.boolean().default(true),
    compare: compareSchema,
    onSharedBreach: onSharedBreachSchema,
    stages: z
      .array(
        z.strictObject({
          name: z
            .string()
            .regex(/^[a-z][a-z0-9_-]{0,19}$/, 'must be lower-case letters and digits, like "d1"')
            .refine((n) => !RESERVED.includes(n), 'must not be a command word'),
          weights: weightsSchema,
          soak: duration().optional(),
        }),
      )
      .min(1, 'stages must list at least one stage'),
    rollbackWeights: weightsSchema,
    redLines: z.strictObject({
      p95LatencyMs: redLineSchema,
      failureRatePercent: redLineSchema,
      costPerImageRatio: redLineSchema,
      regenerateRatePercent: redLineSchema,
    }),
    trafficWindow: duration().prefault('10m'),
    splitTolerance: z.number().min(0).max(1).default(0.05),
    healthConfirmWithin: duration().prefault('2m'),
    maxLatencyMs: z.number().positive().default(600_000),
    maxCostPerImage: z.number().positive().default(100),
  })
  .superRefine((plan, ctx) => {
    if (plan.from === plan.to) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must differ from "from"' });
    const checkWeights = (weights: Weights, path: (string | number)[]) => {
      const problem = weightsProblem(weights, plan.from, plan.to);
      if (problem) ctx.addIssue({ code: 'custom', path, message: problem });
    };
    const seen = new Set<string>();
    plan.stages.forEach((stage, i) => {
      if (seen.has(stage.name))
        ctx.addIssue({ code: 'custom', path: ['stages', i, 'name'], message: `stage name "${stage.name}" is used twice` });
      seen.add(stage.name);
      checkWeights(stage.weights, ['stages', i, 'weights']);
    });
    checkWeights(plan.rollbackWeights, ['rollbackWeights']);
    if (!plan.redLines) return;
    if (plan.rollbackWeights[plan.to] !== 0 && !weightsProblem(plan.rollbackWeights, plan.from, plan.to)) {
      ctx.addIssue({ code: 'custom', path: ['rollbackWeights'], message: `must send no traffic to ${plan.to}` });
    }
  });

/** Why these weights cannot be written, or null when they can. Shared by the plan and the flag reader. */
export function weightsProblem(weights: unknown, from: string, to: string): string | null {
  if (typeof weights !== 'object' || weights === null || Array.isArray(weights))
    return 'weights must be an object like {"fal":0.9,"runware":0.1}';
  const keys = Object.keys(weights).sort();
  const expected = [from, to].sort();
  if (keys.length !== 2 || keys[0] !== expected[0] || keys[1] !== expected[1]) {
    return `weights must name exactly "${from}" and "${to}" (got ${keys.length ? keys.map((k) => `"${k}"`).join(', ') : 'none'})`;
  }
  const w = weights as Record<string, unknown>;
  for (const key of expected) {
    const v = w[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) return `weight "${key}" must be a finite number (got ${JSON.stringify(v)})`;
    if (v < 0 || v > 1) return `weight "${key}" must be between 0 and 1 (got ${v})`;
  }
  const sum = (w[from] as number) + (w[to] as number);
  if (Math.abs(sum - 1) > 1e-9) return `weights must sum to 1 (got ${Number(sum.toFixed(6))})`;
  return null;
}

export class PlanError extends Error {}

const EXPECTED: Record<string, string> = {
  int: 'a whole number',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
};

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.reduce<string>(
    (acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)),
    '',
  );
  let message = issue.message;
  if (issue.code === 'unrecognized_keys')
    message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} (check the spelling)`;
  if (issue.code === 'invalid_type' && message.startsWith('Invalid input')) {
    message = /received undefined/.test(message) ? 'is required' : `must be ${EXPECTED[issue.expected] ?? issue.expected}`;
  }
  return path ? `${path}: ${message}` : message;
}

/** Validates a plan object; throws PlanError with one line naming the field and the problem. */
export function parsePlan(input: unknown, source = 'plan'): Plan {
  const result = planSchema.safeParse(input);
  if (!result.success) throw new PlanError(`${source}: ${describeIssue(result.error.issues[0])}`);
  const p = result.data;
  return {
    flagKey: p.flagKey,
    from: p.from,
    to: p.to,
    providerNames: { [p.from]: defaultName(p.from), [p.to]: defaultName(p.to), ...p.providerNames },
    evaluateEveryMs: p.evaluateEvery,
    minSamples: p.minSamples,
    approvals: p.approvals,
    requestTtlMs: p.requestTtl,
    reportCron: p.reportCron,
    baselineCostPerImage: p.baselineCostPerImage,
    baselineLookbackMs: p.baselineLookback,
    autoRollback: p.autoRollback,
    compare: p.compare,
    onSharedBreach: p.onSharedBreach,
    stages: p.stages.map((s, i) => ({
      name: s.name,
      weights: ordered(s.weights, p.from, p.to),
      soakMs: s.soak ?? (i === p.stages.length - 1 ? null : 0),
    })),
    rollbackWeights: ordered(p.rollbackWeights, p.from, p.to),
    redLines: Object.fromEntries(
      RED_LINES.map((name) => [
        name,
        { threshold: p.redLines[name].threshold, windowMs: p.redLines[name].window, forMs: p.redLines[name].for },
      ]),
    ) as Record<RedLineName, RedLineSpec>,
    trafficWindowMs: p.trafficWindow,
    splitTolerance: p.splitTolerance,
    healthConfirmWithinMs: p.healthConfirmWithin,
    maxLatencyMs: p.maxLatencyMs,
    maxCostPerImage: p.maxCostPerImage,
    document: structuredClone(input),
  };
}

const KNOWN_NAMES: Record<string, string> = { fal: 'FAL', runware: 'Runware' };
const defaultName = (key: string) => KNOWN_NAMES[key] ?? key.charAt(0).toUpperCase() + key.slice(1);

/** Weights with `from` first, as the seed writes them. */
export function ordered(weights: Weights, from: string, to: string): Weights {
  return { [from]: weights[from], [to]: weights[to] };
}

export const defaultPlan = (): Plan => parsePlan(defaultPlanJson, 'built-in plan');

export const stageIndex = (plan: Plan, name: string) => plan.stages.findIndex((s) => s.name === name);
export const longestForMs = (plan: Plan) => Math.max(...RED_LINES.map((n) => plan.redLines[n].forMs));
