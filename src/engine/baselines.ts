import { measureBaselineCost, readVoucherWindow } from '../db/metrics-queries.ts';
import type { VoucherWindow } from '../core/metrics.ts';
import type { Actor, RunView } from '../core/views.ts';
import { withTransaction } from '../db/database.ts';
import * as store from '../db/store.ts';
import type { EngineDeps } from './deps.ts';
import { describeError, isUnavailable } from './errors.ts';

/*
 * A run's baselines, measured by the guard off the state lock (they read hours of rows) and
 * written once under it: the cost per image the cost red line is judged against, and the voucher
 * rate before the run started.
 */

export const GUARD: Actor = { id: 'guard', via: 'guard' };

/** Measures whichever baseline the run still lacks (or whose retry is due); returns the run as it is now. */
export async function ensureBaselines(deps: EngineDeps, run: RunView, now: Date): Promise<RunView> {
  let current = run;
  if (baselineDue(deps, current, now)) current = await captureBaseline(deps, current, now);
  if (!current.baselineVouchers) current = await captureVoucherBaseline(deps, current, now);
  return current;
}

/**
 * The voucher rate's own baseline, once per run: regenerate vouchers and gen_ok over the voucher
 * window before the run started (vouchers carry no provider, so the judge compares the rate with
 * itself before D1). A read that fails is tried again at the next evaluation.
 */
async function captureVoucherBaseline(deps: EngineDeps, run: RunView, now: Date): Promise<RunView> {
  const { db, plan } = deps;
  let w: VoucherWindow;
  try {
    w = await readVoucherWindow(db.metricsPool, run.startedAt, plan.redLines.regenerateRatePercent.windowMs);
  } catch (err) {
    if (isUnavailable(err)) throw err;
    return run;
  }
  return withTransaction(db.pool, async (c) => {
    await store.lockState(c);
    const current = await store.latestRun(c);
    if (!current || current.id !== run.id || current.baselineVouchers) return current ?? run;
    await store.audit(c, {
      at: now,
      runId: run.id,
      actor: GUARD.id,
      via: GUARD.via,
      action: 'baseline',
      outcome: 'done',
      detail: { vouchers: w.vouchers, genOk: w.genOk },
    });
    return store.updateRun(c, run.id, { baselineVouchers: { vouchers: w.vouchers, genOk: w.genOk } });
  });
}

/** An unmeasurable baseline is measured again this often, on the traffic `from` still serves. */
const BASELINE_RETRY_MS = 10 * 60_000;

/** First evaluation of a run, or an unmeasured baseline whose retry is due. */
function baselineDue(deps: EngineDeps, run: RunView, now: Date): boolean {
  if (run.baselineNote === 'pending') return true;
  if (run.baselineCost !== null || deps.plan.baselineCostPerImage !== null) return false;
  return !run.baselineCheckedAt || now.getTime() - run.baselineCheckedAt.getTime() >= BASELINE_RETRY_MS;
}

/**
 * Baseline cost: the plan's number, else `from`'s average over the lookback before the run
 * started. When that is not measurable (too few `from` costs before D1), it is tried again every
 * 10 min over the lookback ending now: during D1 and D2 `from` still serves most traffic, so
 * waiting for its traffic gives the cost red line a baseline.
 */
async function captureBaseline(deps: EngineDeps, run: RunView, now: Date): Promise<RunView> {
  const { db, plan } = deps;
  const first = run.baselineNote === 'pending';
  const from = plan.providerNames[plan.from];
  const hours = Math.round(plan.baselineLookbackMs / 3_600_000);
  // Before D1 first; then (the first time too, when the guard starts late) up to now.
  const ends = first && now.getTime() > run.startedAt.getTime() ? [run.startedAt, now] : [first ? run.startedAt : now];
  let cost: number | null = null;
  let note = '';
  try {
    for (const end of ends) {
      const span =
        end === run.startedAt
          ? `the ${hours} h before ${plan.stages[0].name.toUpperCase()} started`
          : `the ${hours} h before ${now.toISOString().slice(11, 16)} UTC (${from}'s traffic during the rollout, as too little was logged before it)`;
      const measured = await measureBaselineCost(db.metricsPool, plan, end);
      cost = measured.cost;
      note =
        cost !== null
          ? `average ${from} cost over ${span} (${measured.samples} images)`
          : `not measurable yet: ${measured.samples} ${from} costs in ${span}, fewer than minSamples ${plan.minSamples}; the cost red line has no data until ${from} traffic gives one (tried every 10 min), or set baselineCostPerImage in the plan`;
      if (cost !== null) break;
    }
  } catch (err) {
    if (isUnavailable(err)) throw err;
    note = `not measurable yet: ${describeError(err)}; the cost red line has no data (tried again in 10 min)`;
  }
  return withTransaction(db.pool, async (c) => {
    await store.lockState(c);
    const current = await store.latestRun(c);
    if (!current || current.id !== run.id || current.baselineCost !== null || (first && current.baselineNote !== 'pending'))
      return current ?? run;
    if (cost !== null || first)
      await store.audit(c, {
        at: now,
        runId: run.id,
        actor: GUARD.id,
        via: GUARD.via,
        action: 'baseline',
        outcome: 'done',
        detail: { cost, note },
      });
    return store.updateRun(c, run.id, { baselineCost: cost, baselineNote: note, baselineCheckedAt: now });
  });
}
