import { z } from 'zod';

/**
 * What each button carries: the rollout (run) and stage it was made for, so a click on an old
 * message can be told apart from a click on the current one. Values come back from Slack inside
 * a signed request, but they are still input: parsed strictly, then checked against the database.
 */
export const ACTION = {
  approve: 'rollout_approve',
  reject: 'rollout_reject',
  rollback: 'rollout_rollback',
  requestStage: 'rollout_request_stage',
} as const;

const id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const stage = z.string().regex(/^[a-z][a-z0-9_-]{0,19}$/);

export const decisionValue = z.strictObject({ request: id, run: id.nullable(), stage });
export const rollbackValue = z.strictObject({ run: id, stage });
export const requestStageValue = z.strictObject({ run: id, from: stage, to: stage });

export type DecisionValue = z.infer<typeof decisionValue>;
export type RollbackValue = z.infer<typeof rollbackValue>;
export type RequestStageValue = z.infer<typeof requestStageValue>;

export const encodeValue = (v: DecisionValue | RollbackValue | RequestStageValue) => JSON.stringify(v);

/** null for anything that is not exactly a value this bot made. */
export function parseValue<T>(schema: z.ZodType<T>, raw: unknown): T | null {
  if (typeof raw !== 'string' || raw.length > 2000) return null;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return null;
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? parsed.data : null;
}
