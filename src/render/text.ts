import { differenceInMilliseconds } from 'date-fns/differenceInMilliseconds';
import type { Plan } from '../plan/plan.ts';
import { durationLabel, formatDuration } from '../plan/duration.ts';
import type { RolloutEvent } from '../core/events.ts';
import type { Outcome } from '../core/outcomes.ts';
import { healthConfirms, healthSummary } from '../core/health.ts';
import { RED_LINE_LABELS } from '../core/red-lines.ts';
import { judged, liveRates, verdictSentences, versusSummary, type Dress } from './compare.ts';
import { reportDeltas } from '../core/report.ts';
import type { StatusView } from '../core/status.ts';
import { renderBacktest } from './backtest.ts';
import { formatValue, lineSummary, money, shadowNote, percent, sinceLast, utc, weightsLine } from './format.ts';
import { redLineRows, redLinesHeading, redLineTable } from './red-line-table.ts';

/** Plain text for the console, the CLI and logs: the same facts the Slack messages show. */

export function renderOutcome(plan: Plan, o: Outcome): string {
  switch (o.kind) {
    case 'status':
      return renderStatus(plan, o.status);
    case 'help':
      return ['Commands:', ...o.lines.map((l) => `  ${l}`)].join('\n');
    case 'usage':
      return [`Not understood: ${o.problem}.`, 'Commands:', ...o.lines.map((l) => `  ${l}`)].join('\n');
    case 'refused':
      return `Refused: ${o.message}`;
    case 'requested':
      return `Requested ${o.request.toStage} (request #${o.request.id}${o.request.forced ? ', forced' : ''}). It needs ${o.needed} approval${o.needed === 1 ? '' : 's'} from another admin: "approve ${o.request.id}" or "reject ${o.request.id} [reason]".`;
    case 'approval_recorded':
      return `Approval recorded for ${o.request.toStage} (request #${o.request.id}): ${o.request.approvals.length} of ${o.needed}.`;
    case 'stage_started':
      return `${o.stage} started: ${weightsLine(plan, o.weights)}${o.approvers.length ? `, approved by ${o.approvers.join(', ')}` : ''}${o.forced ? ' (forced)' : ''}.`;
    case 'rejected':
      return `Request #${o.request.id} for ${o.request.toStage} rejected${o.request.decisionNote ? `: ${o.request.decisionNote}` : ''}.`;
    case 'rolled_back':
      return `Rolled back: ${weightsLine(plan, o.weights)}${o.reason ? ` (${o.reason})` : ''}. Start again with ${plan.stages[0].name}.`;
    case 'completed':
      return `Rollout complete; the guard stops watching. "rollback" still reverts to ${plan.providerNames[plan.from]}.`;
    case 'history':
      if (!o.entries.length) return 'No history yet.';
      return o.entries.map((e) => `${utc(e.at)}  ${e.actor} (${e.via})  ${e.action}  ${e.outcome}${historyDetail(e.detail)}`).join('\n');
    case 'backtest':
      return renderBacktest(plan, o.result);
    case 'chart':
      return `Chart written to ${o.path} (${Math.round(o.bytes / 1024)} KB): ${o.summary}.`;
    case 'unavailable':
    case 'error':
      return o.message;
  }
}

function historyDetail(d: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const key of ['stage', 'to', 'reason', 'message', 'request', 'forced']) {
    if (d[key] !== undefined && d[key] !== null && d[key] !== false)
      parts.push(`${key}=${typeof d[key] === 'string' ? d[key] : JSON.stringify(d[key])}`);
  }
  return parts.length ? `  ${parts.join(' ')}`.slice(0, 200) : '';
}

export function renderStatus(plan: Plan, s: StatusView): string {
  const out: string[] = [];
  const since = s.run ? (s.active ? ` since ${utc(s.run.stageStartedAt)}` : s.run.endedAt ? ` since ${utc(s.run.endedAt)}` : '') : '';
  out.push(`Stage: ${s.state}${since}${s.autoRollback ? '' : '  [SHADOW MODE: auto-rollback off, alerts only]'}`);
  if (s.state === 'rolled_back' && s.run?.endReason) out.push(`  rolled back: ${s.run.endReason}`);
  const flag =
    s.flag.kind === 'malformed'
      ? `MALFORMED: ${s.flag.problem}`
      : `${weightsLine(plan, s.flag.weights)}${s.flag.kind === 'missing' ? ` (no row: all traffic on ${plan.providerNames[plan.from]})` : ''}`;
  out.push(`Flag ${plan.flagKey}: ${flag}`);
  if (s.drift) out.push(`  ⚠ ${s.drift}`);
  const healthWeights =
    s.health.kind === 'read' ? (s.health.weights ? weightsLine(plan, s.health.weights) : `no weights (${s.health.weightsProblem})`) : null;
  out.push(`Health: ${healthSummary(plan, s.health)}${healthWeights ? `; app reports ${healthWeights}` : ''}`);
  if (s.run && s.health.kind === 'read' && s.flag.kind !== 'malformed' && !healthConfirms(plan, s.health, s.flag.weights))
    out.push("  ⚠ the app does not report the flag's weights yet");
  if (s.soak)
    out.push(
      `Soak: ${formatDuration(Math.min(s.soak.elapsedMs, s.soak.totalMs))} of ${durationLabel(s.soak.totalMs)}${s.soak.leftMs ? ` (${formatDuration(s.soak.leftMs)} left)` : ' — done'}`,
    );
  out.push(
    `Traffic split (${durationLabel(s.split.windowMs)}): ${
      s.split.total
        ? Object.entries(s.split.shares)
            .map(([p, v]) => `${plan.providerNames[p] ?? p} ${percent(v)}`)
            .join(' / ')
        : 'no gen_route rows'
    } (n=${s.split.total})`,
  );
  if (s.run && s.active)
    out.push(
      `Baseline cost: ${s.run.baselineNote === 'pending' ? 'being measured by the guard' : `${money(s.run.baselineCost)} (${s.run.baselineNote})`}`,
    );
  out.push(`${redLinesHeading(plan)}:`);
  for (const row of redLineTable(plan, redLineRows(plan, s.lines))) out.push(`  ${row}`);
  const versus = versusSummary(
    plan,
    s.lines.map((l) => l.evaluation),
  );
  if (versus) out.push(`  ${versus}`);
  for (const v of verdictSentences(plan, s.verdicts, liveRates(plan, s.split))) out.push(`  ${v}`);
  if (s.metricsError) out.push(`  ⚠ metrics query failed: ${s.metricsError}`);
  if (s.active)
    out.push(
      `Guard: ${s.guardEvaluatedAt ? `last evaluated ${utc(s.guardEvaluatedAt)}` : 'not evaluated yet'}, every ${durationLabel(plan.evaluateEveryMs)}`,
    );
  if (s.pending)
    out.push(
      `Open request #${s.pending.id}: ${s.pending.toStage} by ${s.pending.requestedBy}, ${s.pending.approvals.length} of ${plan.approvals} approvals`,
    );
  out.push(`Next: ${s.allowed.length ? s.allowed.join(' · ') : 'nothing (the rollout is over)'}`);
  return out.join('\n');
}

/** "redLines.p95LatencyMs.threshold: run 8000, this replica 6000"; durations (keys in Ms) as "5m". */
export function planDifferenceLines(differences: { key: string; run: unknown; replica: unknown }[]): string[] {
  const value = (key: string, v: unknown) =>
    v === undefined ? '(none)' : /Ms$/.test(key) && typeof v === 'number' ? durationLabel(v) : JSON.stringify(v);
  return differences.map((d) => `${d.key}: run ${value(d.key, d.run)}, this replica ${value(d.key, d.replica)}`);
}

/** Judged lines in plain text, indented under the alert. */
const TEXT: Dress = { indent: '  ', esc: (t) => t, stress: (t) => t };

export function renderEvent(plan: Plan, e: RolloutEvent): string {
  const text = eventText(plan, e);
  const note = shadowNote(plan, e.kind);
  return note ? `${text} (${note})` : text;
}

function eventText(plan: Plan, e: RolloutEvent): string {
  const cand = plan.providerNames[plan.to];
  switch (e.kind) {
    case 'request_opened':
      return [
        `[approval] ${e.request.requestedBy} requests ${e.request.toStage} (#${e.request.id}${e.request.forced ? ', forced' : ''}): ${weightsLine(plan, e.fromWeights)} → ${weightsLine(plan, e.toWeights)}; soak ${e.soakDone ? 'done' : 'NOT done'}.`,
        ...e.lines.map((l) => `  ${lineSummary(plan, l)}`),
        `  Needs ${e.needed} approval${e.needed === 1 ? '' : 's'} from another admin: "approve ${e.request.id}" or "reject ${e.request.id} [reason]".`,
      ].join('\n');
    case 'request_updated': {
      const r = e.request;
      const what =
        r.status === 'pending'
          ? `${r.approvals.length} of ${e.needed} approvals`
          : `${r.status}${r.decidedBy && r.decidedBy !== 'guard' ? ` by ${r.decidedBy}` : ''}${r.decisionNote ? ` (${r.decisionNote})` : ''}`;
      return `[approval] request #${r.id} for ${r.toStage}: ${what}`;
    }
    case 'stage_started':
      return `[stage] ${e.stage} started at ${utc(e.at)}: ${weightsLine(plan, e.previousWeights)} → ${weightsLine(plan, e.weights)}; requested by ${e.by}${e.approvers.length ? `, approved by ${e.approvers.join(', ')}` : ''}${e.forced ? ' (forced past the soak)' : ''}.`;
    case 'breach_started':
      return [
        `[alert] ${RED_LINE_LABELS[e.line.name]} is in breach at ${e.stage}: ${lineSummary(plan, e.line)}. ${e.shadow ? 'Shadow mode: no automatic rollback.' : `Auto-rollback in ${durationLabel(e.forMs)} if it holds; "rollback" to act now.`}`,
        ...judged(plan, e.line, TEXT),
      ].join('\n');
    case 'shared_hold':
      return [
        `[alert] HOLDING at ${e.stage}, not rolling back: ${RED_LINE_LABELS[e.line.name]} held in breach ${formatDuration(e.heldMs)}, and ${plan.providerNames[plan.from]} breaches it too.`,
        `  ${lineSummary(plan, e.line)}`,
        ...judged(plan, e.line, TEXT),
      ].join('\n');
    case 'breach_recovered':
      return `[alert] ${RED_LINE_LABELS[e.line.name]} recovered after ${formatDuration(differenceInMilliseconds(e.at, e.breachSince))}: ${formatValue(e.line.name, e.line.value, e.line.threshold)} (${e.line.state === 'no_data' ? 'no data' : 'ok'}).`;
    case 'auto_rollback':
      return [
        e.shadow
          ? `[alert] SHADOW MODE — would have rolled back ${e.stage} now; nothing was written.`
          : `[alert] AUTO-ROLLBACK at ${e.stage}: flag set to ${weightsLine(plan, e.weights)}.`,
        `  ${RED_LINE_LABELS[e.line.name]} held in breach ${formatDuration(e.heldMs)}: ${lineSummary(plan, e.line)}`,
        ...judged(plan, e.line, TEXT),
        ...(e.others.length ? [`  also in breach: ${e.others.map((n) => RED_LINE_LABELS[n]).join(', ')}`] : []),
      ].join('\n');
    case 'manual_rollback':
      return e.byHand
        ? `[alert] The flag was set to the rollback weights outside the bot (who is unknown); adopted as a manual rollback of ${e.stage}. ${e.reason ?? ''}`.trim()
        : `[alert] ${e.by} rolled back ${e.stage} (${e.via}): ${weightsLine(plan, e.weights)}. Reason: ${e.reason ?? 'none given'}.`;
    case 'no_traffic':
      return `[alert] Traffic is not reaching ${cand}: weight ${percent(e.weight)} but only ${e.candidateRequests} requests in the window for ${formatDuration(e.thinForMs)} (minSamples ${plan.minSamples}). Not a rollback; check the app and the flag.`;
    case 'traffic_restored':
      return `[alert] Traffic reaches ${cand} again.`;
    case 'flag_drift':
      return `[alert] The flag was changed outside the bot (who is unknown): it holds ${e.found}${e.problem ? ` (${e.problem})` : ''}, the bot wrote ${weightsLine(plan, e.expected)}. The bot will not overwrite it; "rollback", or promote with --force.`;
    case 'guard_error':
      return `[alert] The guard cannot read the metrics at ${e.stage}: ${e.message}. Red lines are in ERROR (not ok, not breach) until it can.`;
    case 'guard_recovered':
      return `[alert] The guard reads the metrics again.`;
    case 'database_back':
      return `[notice] ${databaseBackText(e.outageMs)}`;
    case 'completed':
      return `[stage] rollout complete (by ${e.by}); the guard stops watching.`;
    case 'plan_differs':
      return [
        `[alert] Replica ${e.replica} was started with a plan that differs from the one rollout #${e.runId} follows; it follows the run's plan until the run ends, and the next run starts with its own.`,
        ...planDifferenceLines(e.differences).map((l) => `  ${l}`),
      ].join('\n');
    case 'report': {
      const deltas = reportDeltas(e.current, e.previous);
      return [
        `[report] ${e.stage} at ${utc(e.at)}; split ${Object.entries(e.current.split.shares)
          .map(([p, v]) => `${plan.providerNames[p] ?? p} ${percent(v)}`)
          .join(' / ')} (n=${e.current.split.total})`,
        ...redLineTable(
          plan,
          redLineRows(
            plan,
            e.current.lines.map((evaluation) => ({ evaluation })),
          ),
          { header: 'since last', cells: e.current.lines.map((l) => sinceLast(l.name, deltas[l.name])) },
        ).map((t) => `  ${t}`),
        ...[versusSummary(plan, e.current.lines)].filter((t) => t !== null).map((t) => `  ${t}`),
      ].join('\n');
    }
  }
}

/** The one "back" of an outage, in every dress (the "unavailable" it answers is engine/outage-watch.ts). */
export const databaseBackText = (outageMs: number): string => `Database is back after ${formatDuration(outageMs)}; the guard resumed.`;
