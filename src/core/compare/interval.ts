/** A point estimate with its interval, in the unit the function names (pp, or a ratio). */
export interface Interval {
  estimate: number;
  lower: number;
  upper: number;
  confidence: number;
}

/** Either an interval, or why none can be given (too few rows, nothing to divide by). */
export type Comparison = { ok: true; interval: Interval } | { ok: false; reason: string };

/** A red line's comparison with FAL, named by the metric it compares (kept on the evaluation). */
export type Versus =
  | { kind: 'failures'; comparison: Comparison }
  | { kind: 'p95'; comparison: Comparison }
  | { kind: 'cost'; comparison: Comparison }
  | { kind: 'vouchers'; comparison: Comparison };

export const comparison = (interval: Interval): Comparison => ({ ok: true, interval });
export const noComparison = (reason: string): Comparison => ({ ok: false, reason });

export function checkCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a whole number ≥ 0 (got ${value})`);
}
