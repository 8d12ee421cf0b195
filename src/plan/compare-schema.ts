import { z } from 'zod';

/**
 * The plan's "compare" block and "onSharedBreach" (how the judge in core/compare reads Runware
 * against FAL). Omitted keys take the defaults below; unknown keys are refused like the rest of
 * the plan.
 */
export const compareSchema = z
  .strictObject({
    /** Confidence of every interval and of the sequential comparison. */
    confidence: z.number().gt(0.5, 'must be above 0.5, like 0.95').lt(1, 'must be below 1, like 0.95').default(0.95),
    /** Runware may fail this many percentage points more than FAL and still be "not worse". */
    failureMarginPp: z.number().positive('must be a positive number of percentage points, like 1').default(1),
    /** Runware's typical latency may be this many times FAL's and still be "not worse". */
    latencyMarginRatio: z.number().gt(1, 'must be a ratio above 1, like 1.1').default(1.1),
    /** Requests per provider in the stage before the sequential comparison gives a verdict. */
    minSamples: z
      .number()
      .int('must be a whole number')
      .min(30, 'must be at least 30: the comparison leans on large-sample theory')
      .default(200),
    /** When true, a stage is promoted only once Runware is "not worse" on failures and latency. */
    requireNotWorse: z.boolean().default(false),
  })
  .prefault({});

/** When FAL breaches the same red line in the same window: roll back anyway (the runbook's rule), or hold and tell people. */
export const onSharedBreachSchema = z.enum(['rollback', 'hold'], { error: 'must be "rollback" or "hold"' }).default('rollback');

export type CompareConfig = z.output<typeof compareSchema>;
export type OnSharedBreach = z.output<typeof onSharedBreachSchema>;

export const COMPARE_DEFAULTS: CompareConfig = compareSchema.parse(undefined);
