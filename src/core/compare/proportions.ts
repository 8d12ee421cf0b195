import { checkCount, comparison, noComparison, type Comparison } from './interval.ts';
import { zFor } from './distributions.ts';

/** Events out of trials: failures of requests, or vouchers of gen_ok rows. Additive per bucket. */
export interface Proportion {
  events: number;
  trials: number;
}

/**
 * Wilson's score interval for one proportion, as fractions. Unlike p ± z·se it stays inside
 * [0, 1] and is not empty at 0 events, which is the usual state of a thin failure window.
 */
export function wilson({ events, trials }: Proportion, confidence: number): { lower: number; upper: number } {
  checkCount('events', events);
  checkCount('trials', trials);
  if (trials === 0) throw new RangeError('a Wilson interval needs at least one trial');
  if (events > trials) throw new RangeError(`events (${events}) cannot exceed trials (${trials})`);
  const z = zFor(confidence);
  const p = events / trials;
  const z2 = z * z;
  const centre = (p + z2 / (2 * trials)) / (1 + z2 / trials);
  const half = (z / (1 + z2 / trials)) * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  // At 0 (or all) events the bound is exactly 0 (or 1); rounding must not push it past.
  return { lower: events === 0 ? 0 : Math.max(0, centre - half), upper: events === trials ? 1 : Math.min(1, centre + half) };
}

/**
 * The difference a − b of two independent proportions in percentage points, with Newcombe's
 * hybrid score interval (Newcombe 1998, method 10): built from the two Wilson intervals, so it
 * keeps near-nominal coverage at small counts and at 0 events, where the Wald interval collapses.
 */
export function proportionDifference(a: Proportion, b: Proportion, confidence = 0.95): Comparison {
  if (a.trials === 0 || b.trials === 0) return noComparison(`no ${a.trials === 0 ? 'candidate' : 'reference'} rows to compare`);
  const pa = a.events / a.trials;
  const pb = b.events / b.trials;
  const wa = wilson(a, confidence);
  const wb = wilson(b, confidence);
  const d = pa - pb;
  const below = Math.sqrt((pa - wa.lower) ** 2 + (wb.upper - pb) ** 2);
  const above = Math.sqrt((wa.upper - pa) ** 2 + (pb - wb.lower) ** 2);
  return comparison({ estimate: 100 * d, lower: 100 * (d - below), upper: 100 * (d + above), confidence });
}

/** Runware's failure rate minus FAL's, in pp. Inputs per provider: failures and requests of the window. */
export const failureDifference = (runware: Proportion, fal: Proportion, confidence = 0.95) =>
  proportionDifference(runware, fal, confidence);

/**
 * The regenerate-voucher rate of the window minus the same rate in the hour before D1, in pp.
 * Vouchers carry no provider, so the window is compared with itself before the rollout began:
 * a time-shifted baseline. Inputs: vouchers and gen_ok rows of each period.
 */
export function voucherShift(current: Proportion, beforeD1: Proportion, confidence = 0.95): Comparison {
  for (const [name, p] of [
    ['the window', current],
    ['the hour before D1', beforeD1],
  ] as const) {
    if (p.events > p.trials) return noComparison(`${name} has more vouchers (${p.events}) than gen_ok rows (${p.trials}): not a rate`);
  }
  if (beforeD1.trials === 0) return noComparison('no gen_ok rows in the hour before D1 to compare with');
  if (current.trials === 0) return noComparison('no gen_ok rows in the window');
  return proportionDifference(current, beforeD1, confidence);
}
