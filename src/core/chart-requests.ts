import type { Plan, RedLineName } from '../plan/plan.ts';
import { RED_LINES } from '../plan/plan.ts';
import { formatDuration } from '../plan/duration.ts';
import type { AlertEpisode } from './alert-episodes.ts';
import { bucketMs } from './backtest.ts';
import type { RolloutEvent } from './events.ts';
import { weightsSummary } from './weights.ts';

/**
 * What a chart posted in Slack shows, decided when its message is delivered and stored with
 * the chart job (JSON), so a retry hours later draws the same picture.
 */
export type ChartRequest =
  | { kind: 'stage'; runId: number; fromMs: number; toMs: number; title: string; marks: { atMs: number; label: string }[] }
  | {
      kind: 'alert';
      runId: number;
      /** The red line that fired; null for a manual rollback (the drawing picks the one in breach, if any). */
      line: RedLineName | null;
      fromMs: number;
      toMs: number;
      crossedAtMs: number | null;
      firedAtMs: number | null;
      what: string;
    }
  | { kind: 'backtest'; fromMs: number; toMs: number; baselineCost: number | null; rollbacks: number };

type Started = Extract<RolloutEvent, { kind: 'stage_started' }>;

const HOUR = 3_600_000;
/** A stage chart spans the stage so far, within these bounds (as the `chart` command does). */
const STAGE_SPAN = { minMs: 30 * 60_000, maxMs: 24 * HOUR };

/** The charts the channel gets: every report, breach alert and rollback (auto or manual). */
export const CHARTED_KINDS = new Set<RolloutEvent['kind']>(['report', 'breach_started', 'auto_rollback', 'manual_rollback']);

/**
 * The chart for an event, or null when it gets none. `started` is the stage's stage_started
 * event (its checklist's), for the report's span and title.
 */
export function chartRequestFor(plan: Plan, event: RolloutEvent, started: Started | null): ChartRequest | null {
  const step = bucketMs(plan);
  // Up to the bucket holding the moment, so the moment itself is on the chart.
  const upTo = (iso: string) => Math.ceil(Date.parse(iso) / step) * step;
  switch (event.kind) {
    case 'report': {
      const toMs = upTo(event.at);
      const stageStart = started ? Date.parse(started.at) : toMs - STAGE_SPAN.minMs;
      const span = Math.min(STAGE_SPAN.maxMs, Math.max(STAGE_SPAN.minMs, toMs - stageStart));
      const stage = event.stage.toUpperCase();
      return {
        kind: 'stage',
        runId: event.runId,
        fromMs: toMs - span,
        toMs,
        title: started ? `Stage ${stage} so far: ${weightsSummary(plan, started.weights)}` : `Stage ${stage} so far`,
        marks: started ? [{ atMs: stageStart, label: `${stage} start` }] : [],
      };
    }
    case 'breach_started': {
      const at = Date.parse(event.at);
      return alert(plan, event.runId, event.line.name, at, at, null, event.shadow ? 'Breach (shadow mode)' : 'Breach', upTo(event.at));
    }
    case 'auto_rollback': {
      const at = Date.parse(event.at);
      return alert(
        plan,
        event.runId,
        event.line.name,
        at - event.heldMs,
        at,
        at,
        event.shadow ? 'Would-be rollback (shadow mode)' : 'Automatic rollback',
        upTo(event.at),
      );
    }
    case 'manual_rollback': {
      const at = Date.parse(event.at);
      return alert(
        plan,
        event.runId,
        null,
        null,
        at,
        at,
        event.byHand ? 'Flag set to the rollback weights by hand' : 'Manual rollback',
        upTo(event.at),
      );
    }
    default:
      return null;
  }
}

/**
 * One chart for a whole breach episode (a red line flapping at its threshold), drawn when the
 * episode ends: from the lead before its first breach to its last breach or recovery, or to the
 * rollback that ended it. It replaces the chart of the episode's first breach, under its parent.
 */
export function episodeChartRequest(plan: Plan, e: AlertEpisode): ChartRequest {
  const step = bucketMs(plan);
  const first = Date.parse(e.firstBreachAt);
  const end = Date.parse(e.rolledBackAt ?? e.lastEventAt);
  const times = e.breaches === 1 ? 'once' : `${e.breaches} times in ${formatDuration(end - first)}`;
  const what = `${e.stage.toUpperCase()}: breached ${times}${e.rolledBackAt ? ', then rolled back' : ''}`;
  const rolledBackAt = e.rolledBackAt ? Date.parse(e.rolledBackAt) : null;
  return alert(plan, e.runId, e.line, first, first, rolledBackAt, what, Math.ceil(end / step) * step + step);
}

/**
 * The window around an alert: twice the red line's `for` plus its window before the moment
 * (the breach's whole build-up and the evaluations before it), up to the moment.
 */
function alert(
  plan: Plan,
  runId: number,
  line: RedLineName | null,
  crossedAtMs: number | null,
  momentMs: number,
  firedAtMs: number | null,
  what: string,
  toMs: number,
): ChartRequest {
  const lead = (n: RedLineName) => 2 * plan.redLines[n].forMs + plan.redLines[n].windowMs;
  const before = line ? lead(line) : Math.max(...RED_LINES.map(lead));
  const fromMs = Math.min(momentMs - before, (crossedAtMs ?? momentMs) - plan.evaluateEveryMs * 4);
  return { kind: 'alert', runId, line, fromMs, toMs, crossedAtMs, firedAtMs, what };
}
