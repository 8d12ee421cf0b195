import { differenceInMilliseconds } from 'date-fns/differenceInMilliseconds';
import type { Plan, Stage } from '../plan/plan.ts';
import { durationLabel, formatDuration } from '../plan/duration.ts';
import { healthConfirms, healthSummary, providersOk } from '../core/health.ts';
import type { StatusView } from '../core/status.ts';
import { sameWeights } from '../core/weights.ts';
import { percent, utc, weightsLine } from './format.ts';
import { redLineRow, rowSummary, type RedLineRow } from './red-line-table.ts';
import { liveRates, verdictSentences, versusSummary } from './compare.ts';

/**
 * The seed's per-stage checklist, each item ticked from a measurement: the flag read back, the
 * app's health endpoint, the observed traffic split, the soak and every red line. Pure: the
 * caller supplies the status and what was already seen (when health first confirmed).
 */
export type ItemState = 'done' | 'waiting' | 'warning' | 'failed' | 'info';

export interface ChecklistItem {
  state: ItemState;
  text: string;
  /** A red line's item: both providers side by side, for the Block Kit fields. */
  row?: RedLineRow;
}

export interface ChecklistTracking {
  /** When the health endpoint first reported the stage's weights, ISO; null until then. */
  healthConfirmedAt: string | null;
}

export interface ChecklistResult {
  items: ChecklistItem[];
  tracking: ChecklistTracking;
  /** The soak is over and every item is green: the next stage may be requested. */
  ready: boolean;
}

export const ITEM_ICON: Record<ItemState, string> = { done: '✅', waiting: '⏳', warning: '⚠️', failed: '🔴', info: '⚪' };

export function checklistItems(plan: Plan, stage: Stage, startedAt: Date, s: StatusView, tracking: ChecklistTracking): ChecklistResult {
  const now = s.at;
  const elapsed = differenceInMilliseconds(now, startedAt);
  const items: ChecklistItem[] = [];
  const next = { ...tracking };

  // 1. The flag as the database holds it now.
  if (s.flag.kind === 'malformed') items.push({ state: 'failed', text: `Weights: the flag row is malformed (${s.flag.problem})` });
  else if (sameWeights(plan, s.flag.weights, stage.weights))
    items.push({ state: 'done', text: `Weights written (${utc(startedAt)}) and read back: ${weightsLine(plan, s.flag.weights)}` });
  else
    items.push({
      state: 'failed',
      text: `Weights: the flag reads ${weightsLine(plan, s.flag.weights)}, not ${weightsLine(plan, stage.weights)} (changed outside the bot)`,
    });

  // 2. The app's own view: providers ok and config.weights equal to the stage's weights.
  const needed = stage.weights[plan.from] === 0 ? [plan.to] : [plan.from, plan.to];
  const healthy = providersOk(plan, s.health, needed);
  const confirms = healthConfirms(plan, s.health, stage.weights);
  if (s.health.kind === 'not_configured') {
    items.push({ state: 'info', text: "Health: HEALTH_URL is not set, so the app's weights cannot be confirmed" });
  } else if (healthy && confirms) {
    next.healthConfirmedAt ??= now.toISOString();
    items.push({
      state: 'done',
      text: `Health ok (${healthSummary(plan, s.health)}) and the app reports ${weightsLine(plan, stage.weights)} (confirmed ${utc(next.healthConfirmedAt)})`,
    });
  } else {
    const seen =
      s.health.kind === 'read'
        ? s.health.weights
          ? `app reports ${weightsLine(plan, s.health.weights)}`
          : `no weights (${s.health.weightsProblem})`
        : '';
    const what = `${healthSummary(plan, s.health)}${seen ? `; ${seen}` : ''}`;
    items.push(
      elapsed < plan.healthConfirmWithinMs
        ? { state: 'waiting', text: `Health: waiting for the app to report ${weightsLine(plan, stage.weights)} (${what})` }
        : {
            state: 'warning',
            text: `Health: not confirmed ${formatDuration(elapsed)} after the change (expected within ${durationLabel(plan.healthConfirmWithinMs)}): ${what}`,
          },
    );
  }

  // 3. The observed split; its window covers traffic from before the change for a while.
  const window = durationLabel(s.split.windowMs);
  const observed = s.split.total
    ? `${plan.providerNames[plan.from]} ${percent(s.split.shares[plan.from] ?? 0)} / ${plan.providerNames[plan.to]} ${percent(s.split.shares[plan.to] ?? 0)} (n=${s.split.total})`
    : 'no gen_route rows';
  const gap = Math.abs((s.split.shares[plan.to] ?? 0) - stage.weights[plan.to]);
  if (s.split.total < plan.minSamples)
    items.push({
      state: 'waiting',
      text: `Traffic split (${window}): ${observed}; too few requests to judge (minSamples ${plan.minSamples})`,
    });
  else if (gap <= plan.splitTolerance) items.push({ state: 'done', text: `Traffic split (${window}) matches: ${observed}` });
  else if (elapsed < s.split.windowMs)
    items.push({
      state: 'waiting',
      text: `Traffic split (${window}): ${observed}; the window still holds traffic from before ${stage.name.toUpperCase()}`,
    });
  else
    items.push({
      state: 'warning',
      text: `Traffic split (${window}): ${observed}, off the weights by ${percent(gap)} (tolerance ${percent(plan.splitTolerance)})`,
    });

  // 4. Soak.
  const soakDone = stage.soakMs !== null && elapsed >= stage.soakMs;
  if (stage.soakMs === null) items.push({ state: 'info', text: 'No soak: watched continuously until `complete`' });
  else if (soakDone) items.push({ state: 'done', text: `Soak ${durationLabel(stage.soakMs)} done` });
  else
    items.push({
      state: 'waiting',
      text: `Soak ${formatDuration(elapsed)} of ${durationLabel(stage.soakMs)} (${formatDuration(stage.soakMs - elapsed)} left)`,
    });

  // 5. Red lines.
  for (const l of s.lines) {
    const state: ItemState = { ok: 'done', breach: 'failed', no_data: 'waiting', error: 'warning' }[l.evaluation.state] as ItemState;
    const row = redLineRow(plan, l);
    items.push({ state, text: rowSummary(plan, row), row });
  }

  // 6. Runware against FAL: informs, unless the plan makes "not worse" a promotion requirement.
  const versus = versusSummary(
    plan,
    s.lines.map((l) => l.evaluation),
  );
  if (versus) items.push({ state: 'info', text: versus });
  if (s.verdicts) {
    const gate = plan.compare.requireNotWorse;
    for (const [text, r] of verdictSentences(plan, s.verdicts, liveRates(plan, s.split)).map(
      (t, i) => [t, i ? s.verdicts!.latency : s.verdicts!.failures] as const,
    )) {
      const state: ItemState = !gate ? 'info' : r.verdict === 'not_worse' ? 'done' : r.verdict === 'worse' ? 'failed' : 'waiting';
      items.push({ state, text });
    }
  }

  // An unset HEALTH_URL is shown, not blocking: the flag, the split and the red lines still decide.
  const green = items.every((i) => i.state === 'done' || i.state === 'info');
  return { items, tracking: next, ready: soakDone && green };
}
