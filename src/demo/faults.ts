import type { RedLineName } from '../plan/plan.ts';

/** The Runware faults the demo can inject, what their size means, and which red line should catch them. */
export type FaultKind = 'latency' | 'errors' | 'cost' | 'vouchers' | 'no-traffic';

export interface FaultSpec {
  kind: FaultKind;
  /** What --size means for this fault. */
  sizeMeaning: string;
  defaultSize: number;
  min: number;
  max: number;
  /** The red line expected to fire; null: no rollback expected (an alert instead). */
  expectedLine: RedLineName | null;
  describe(size: number): string;
}

export const FAULTS: Record<FaultKind, FaultSpec> = {
  latency: {
    kind: 'latency',
    sizeMeaning: 'Runware latency multiplier',
    defaultSize: 3,
    min: 1,
    max: 50,
    expectedLine: 'p95LatencyMs',
    describe: (s) => `Runware answers ${s}× slower`,
  },
  errors: {
    kind: 'errors',
    sizeMeaning: 'percent of Runware requests that fail',
    defaultSize: 10,
    min: 0,
    max: 100,
    expectedLine: 'failureRatePercent',
    describe: (s) => `${s}% of Runware requests fail`,
  },
  cost: {
    kind: 'cost',
    sizeMeaning: 'Runware cost-per-image multiplier',
    defaultSize: 2,
    min: 0.1,
    max: 20,
    expectedLine: 'costPerImageRatio',
    describe: (s) => `Runware bills ${s}× per image`,
  },
  vouchers: {
    kind: 'vouchers',
    sizeMeaning: 'percent of Runware images users regenerate',
    defaultSize: 40,
    min: 0,
    max: 100,
    expectedLine: 'regenerateRatePercent',
    describe: (s) => `users regenerate ${s}% of Runware images`,
  },
  'no-traffic': {
    kind: 'no-traffic',
    sizeMeaning: 'percent of Runware-bound requests that never reach Runware (they fall back to FAL)',
    defaultSize: 100,
    min: 0,
    max: 100,
    expectedLine: null,
    describe: (s) => `${s}% of Runware-bound requests never reach Runware (the app falls back to FAL)`,
  },
};

export const FAULT_KINDS = Object.keys(FAULTS) as FaultKind[];

export interface Fault {
  kind: FaultKind;
  size: number;
}
