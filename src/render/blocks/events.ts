import { addMilliseconds } from 'date-fns/addMilliseconds';
import { differenceInMilliseconds } from 'date-fns/differenceInMilliseconds';
import type { Plan, RedLineName } from '../../plan/plan.ts';
import { durationLabel, formatDuration } from '../../plan/duration.ts';
import type { RolloutEvent } from '../../core/events.ts';
import { RED_LINE_LABELS, type LineEvaluation } from '../../core/red-lines.ts';
import { judged, versusSummary, type Dress } from '../compare.ts';
import { reportDeltas } from '../../core/report.ts';
import { databaseBackText, planDifferenceLines, renderEvent } from '../text.ts';
import { formatValue, lineIcon, lineSummary, money, percent, shadowNote, sinceLast, weightsLine } from '../format.ts';
import { redLineRows } from '../red-line-table.ts';
import { redLineSections } from './red-lines.ts';
import { rollbackButton } from './controls.ts';
import { actions, context, esc, hhmm, hhmmss, section, upper, who } from './common.ts';
import { fitMessage, type Message } from './limits.ts';

// The first place to look depends on which red line fired: an error hunt is no help for cost.
const WHERE_TO_LOOK: Record<RedLineName, (provider: string) => string> = {
  p95LatencyMs: (p) => `look at ${p}'s slow requests (\`latency_ms\` of its \`gen_route\` rows)`,
  failureRatePercent: (p) => `look at ${p}'s errors in \`analytics_logs\``,
  costPerImageRatio: (p) => `compare ${p}'s cost per image with the baseline (price, resolution, retries)`,
  regenerateRatePercent: (p) => `look at why users regenerate ${p}'s images (quality, wrong output)`,
};

type Of<K extends RolloutEvent['kind']> = Extract<RolloutEvent, { kind: K }>;

/**
 * Channel messages for the events that are not edited in place (the approval request and the
 * checklist have their own renderers). Alerts carry the values, the threshold and the window.
 */
export function eventMessage(
  plan: Plan,
  e: Exclude<RolloutEvent, Of<'request_opened' | 'request_updated' | 'stage_started'>>,
  extra: { baseline?: number | null; confirmation?: string | null } = {},
): Message {
  const text = renderEvent(plan, e);
  const cand = plan.providerNames[plan.to];
  const note = shadowNote(plan, e.kind);
  const msg = (...blocks: Message['blocks']) => fitMessage({ text, blocks: note ? [...blocks, context(`:ghost: ${note}`)] : blocks });
  switch (e.kind) {
    case 'breach_started': {
      const deadline = addMilliseconds(e.at, e.forMs);
      const act = e.shadow
        ? '_Shadow mode: no automatic rollback; this is an alert only._'
        : `Auto-rollback in *${durationLabel(e.forMs)}* (at ${hhmmss(deadline)}) if it holds for the whole time.`;
      return msg(
        section(`:rotating_light: *${RED_LINE_LABELS[e.line.name]} is in breach at ${upper(e.stage)}*`),
        section(`${lineIcon(e.line)} ${esc(lineSummary(plan, e.line))}\n${act}`),
        ...judgedBlocks(plan, e.line),
        actions(rollbackButton(e.runId, e.stage, 'Roll back now')),
      );
    }
    case 'shared_hold':
      return msg(
        section(
          `:double_vertical_bar: *Holding at ${upper(e.stage)}, not rolling back*: ${RED_LINE_LABELS[e.line.name]} held in breach for ${formatDuration(e.heldMs)}, and ${plan.providerNames[plan.from]} breaches it too (the plan says \`onSharedBreach: "hold"\`). The guard keeps evaluating.`,
        ),
        section(`${lineIcon(e.line)} ${esc(lineSummary(plan, e.line))}`),
        ...judgedBlocks(plan, e.line),
        actions(rollbackButton(e.runId, e.stage, 'Roll back now')),
      );
    case 'breach_recovered':
      return msg(
        section(
          `:large_green_circle: *${RED_LINE_LABELS[e.line.name]} recovered* at ${upper(e.stage)} after ${formatDuration(differenceInMilliseconds(e.at, e.breachSince))}: ${formatValue(e.line.name, e.line.value, e.line.threshold)} (${e.line.state === 'no_data' ? 'no data' : 'ok'}, n=${e.line.samples}).`,
        ),
      );
    case 'auto_rollback': {
      const head = e.shadow
        ? `:ghost: *SHADOW MODE — would have rolled back ${upper(e.stage)} now*; nothing was written.`
        : `:rewind: *AUTO-ROLLBACK at ${upper(e.stage)}*: the flag now holds *${weightsLine(plan, e.weights)}*.`;
      const facts = [
        `*Why*: ${RED_LINE_LABELS[e.line.name]} held in breach for ${formatDuration(e.heldMs)} (red line's \`for\`: ${durationLabel(plan.redLines[e.line.name].forMs)})`,
        `${lineIcon(e.line)} ${esc(lineSummary(plan, e.line))}`,
        ...judged(plan, e.line, MRKDWN),
        `Baseline cost per image: ${money(e.line.cost?.baseline ?? extra.baseline ?? null)}`,
        ...(e.others.length ? [`Also in breach: ${e.others.map((n) => RED_LINE_LABELS[n]).join(', ')}`] : []),
      ];
      const blocks = [section(head), section(facts.join('\n'))];
      if (!e.shadow)
        blocks.push(context(extra.confirmation ?? `Health endpoint: checking that the app reports ${weightsLine(plan, e.weights)}…`));
      else blocks.push(actions(rollbackButton(e.runId, e.stage, 'Roll back now')));
      blocks.push(context(`Next: ${WHERE_TO_LOOK[e.line.name](cand)}, fix, then start again with \`/rollout ${plan.stages[0].name}\`.`));
      return msg(...blocks);
    }
    case 'manual_rollback': {
      const head = e.byHand
        ? `:rewind: *The flag was set to the rollback weights outside the bot* (who is unknown); adopted as a manual rollback of ${upper(e.stage)}.`
        : `:rewind: *${who(e.by)} rolled back ${upper(e.stage)}* (${esc(e.via)}): the flag now holds *${weightsLine(plan, e.weights)}*.`;
      const reason = `Reason: ${esc(e.reason ?? 'none given')}`;
      return msg(
        section(head),
        section(reason),
        context(extra.confirmation ?? `Health endpoint: checking that the app reports ${weightsLine(plan, e.weights)}…`),
      );
    }
    case 'no_traffic':
      return msg(
        section(
          `:warning: *Traffic is not reaching ${cand}* at ${upper(e.stage)}: weight ${percent(e.weight)} but only ${e.candidateRequests} requests in the window, for ${formatDuration(e.thinForMs)} (minSamples ${plan.minSamples}). Not a rollback: red lines read *no data*; check the app and the flag.`,
        ),
      );
    case 'traffic_restored':
      return msg(section(`:large_green_circle: Traffic reaches ${cand} again at ${upper(e.stage)}.`));
    case 'flag_drift':
      return msg(
        section(
          `:warning: *The flag was changed outside the bot* (who is unknown): it holds \`${esc(e.found)}\`${e.problem ? ` (${esc(e.problem)})` : ''}; the bot wrote ${weightsLine(plan, e.expected)}. The bot will not overwrite it.`,
        ),
        actions(rollbackButton(e.runId, e.stage)),
        context(`Or promote with \`--force\` to overwrite it (audited).`),
      );
    case 'guard_error':
      return msg(
        section(
          `:warning: *The guard cannot read the metrics* at ${upper(e.stage)}: ${esc(e.message)}. Red lines are in ERROR (not ok, not breach) until it can; no automatic rollback meanwhile.`,
        ),
      );
    case 'guard_recovered':
      return msg(section(`:large_green_circle: The guard reads the metrics again at ${upper(e.stage)}.`));
    case 'database_back':
      return noticeMessage(databaseBackText(e.outageMs));
    case 'completed':
      return msg(
        section(
          `:checkered_flag: *Rollout complete* (by ${who(e.by)}); the guard stops watching. \`/rollout rollback\` still reverts to ${plan.providerNames[plan.from]}.`,
        ),
      );
    case 'plan_differs':
      return msg(
        section(
          `:warning: *A replica runs with another plan*: \`${esc(e.replica)}\` was started with a \`ROLLOUT_PLAN\` that differs from the one rollout #${e.runId} follows. It judges the run by the run's plan until the run ends; the next run starts with the plan of whichever replica leads. Give every replica the same plan file.`,
        ),
        section(
          planDifferenceLines(e.differences)
            .map((l) => `• ${esc(l)}`)
            .join('\n'),
        ),
      );
    case 'report':
      return reportMessage(plan, e, text);
  }
}

function reportMessage(plan: Plan, e: Of<'report'>, text: string): Message {
  const deltas = reportDeltas(e.current, e.previous);
  const split = Object.entries(e.current.split.shares)
    .map(([p, v]) => `${plan.providerNames[p] ?? p} ${percent(v)}`)
    .join(' / ');
  const rows = redLineRows(
    plan,
    e.current.lines.map((evaluation) => ({ evaluation })),
  );
  const extras = e.current.lines.map((l) => {
    const d = sinceLast(l.name, deltas[l.name]);
    return d ? `${d} since last` : '';
  });
  return fitMessage({
    text,
    blocks: [
      section(
        `:bar_chart: *${upper(e.stage)} report* ${hhmm(e.at)} · split ${split || 'no traffic'} (n=${e.current.split.total}, ${durationLabel(e.current.split.windowMs)})`,
      ),
      ...redLineSections(plan, rows, extras),
      ...[versusSummary(plan, e.current.lines)].filter((t) => t !== null).map((t) => context(esc(t))),
    ],
  });
}

/** Judged lines in Slack mrkdwn: escaped, the shared cause linked and bold. */
const MRKDWN: Dress = { indent: '', esc, stress: (t) => `:link: *${t}*` };

const judgedBlocks = (plan: Plan, line: LineEvaluation) => {
  const lines = judged(plan, line, MRKDWN);
  return lines.length ? [section(lines.join('\n'))] : [];
};

/** The line the refresher adds under a rollback alert once the app's health endpoint was read. */
export function rollbackConfirmation(plan: Plan, confirmed: boolean, at: Date, detail: string): string {
  return confirmed
    ? `✅ Health endpoint confirms ${weightsLine(plan, plan.rollbackWeights)} (${hhmm(at)}).`
    : `⚠️ Health endpoint does not confirm the rollback weights yet (${hhmm(at)}): ${esc(detail)}`;
}

/** A notice that cannot wait for the database (it may be what is down). */
export function noticeMessage(text: string): Message {
  return fitMessage({ text, blocks: [section(`:information_source: ${esc(text)}`)] });
}
