import { addDecimal, type Decimal } from './decimal.ts';

/*
 * The additive sums every metric is built from (db/metric-sums.ts reads them from SQL): what a
 * bucket, or part of one, of one provider's gen_route rows adds up to. The live cache adds them
 * minute by minute, the backtest bucket by bucket, and both add them with the helpers below.
 */

export interface RouteSums {
  requests: number;
  failures: number;
  latencySamples: number;
  costSamples: number;
  costSkipped: number;
  /** Exact sum of the usable costs; null when there were none (as SUM gives). */
  costSum: Decimal | null;
  /** The latencies themselves (float8), where asked for: the p95 window only. */
  latencies: number[] | null;
  /** Backtest only: latencies ≥ the p95 threshold, and the values either side of it (NaN: none). */
  atOrAbove: number;
  belowMax: number;
  aboveMin: number;
}

export interface VoucherSums {
  vouchers: number;
  genOk: number;
}

export const emptyRouteSums = (): RouteSums => ({
  requests: 0,
  failures: 0,
  latencySamples: 0,
  costSamples: 0,
  costSkipped: 0,
  costSum: null,
  latencies: null,
  atOrAbove: 0,
  belowMax: Number.NaN,
  aboveMin: Number.NaN,
});

/** Exact sums of costs, where either side may have none (null, as SUM gives). */
export const addExact = (a: Decimal | null, b: Decimal | null): Decimal | null => (a && b ? addDecimal(a, b) : (a ?? b));
/** The larger and the smaller of two values, where NaN means "none". */
export const maxNum = (a: number, b: number): number => (Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.max(a, b));
export const minNum = (a: number, b: number): number => (Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.min(a, b));

export function addRouteSums(a: RouteSums, b: RouteSums): RouteSums {
  return {
    requests: a.requests + b.requests,
    failures: a.failures + b.failures,
    latencySamples: a.latencySamples + b.latencySamples,
    costSamples: a.costSamples + b.costSamples,
    costSkipped: a.costSkipped + b.costSkipped,
    costSum: addExact(a.costSum, b.costSum),
    latencies: a.latencies && b.latencies ? a.latencies.concat(b.latencies) : (a.latencies ?? b.latencies),
    atOrAbove: a.atOrAbove + b.atOrAbove,
    belowMax: maxNum(a.belowMax, b.belowMax),
    aboveMin: minNum(a.aboveMin, b.aboveMin),
  };
}

export const addVoucherSums = (a: VoucherSums, b: VoucherSums): VoucherSums => ({
  vouchers: a.vouchers + b.vouchers,
  genOk: a.genOk + b.genOk,
});
