/** Runware against FAL (issue 12): pure statistics over plain per-window aggregates. */
export type { Interval, Comparison } from './interval.ts';
export { type Proportion, wilson, proportionDifference, failureDifference, voucherShift } from './proportions.ts';
export { type RankPlan, type P95Sample, p95RankPlan, p95Ratio, p95SampleOf, percentileCont } from './quantile.ts';
export { type Moments, type CostCluster, costRatio, clusteredCostRatio, momentsOf } from './means.ts';
export {
  type Verdict,
  type SequentialResult,
  type LogMoments,
  failureSequential,
  latencySequential,
  logMomentsOf,
  sequenceHalfWidth,
} from './sequential.ts';
export { type SharedBreachLine, sharedBreach, rollsBackOn } from './shared-breach.ts';
export { type CompareConfig, type OnSharedBreach, compareSchema, onSharedBreachSchema, COMPARE_DEFAULTS } from './schema.ts';
