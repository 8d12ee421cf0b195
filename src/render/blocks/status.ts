import type { Plan } from '../../plan/plan.ts';
import { durationLabel, formatDuration } from '../../plan/duration.ts';
import { healthConfirms, healthSummary } from '../../core/health.ts';
import type { StatusView } from '../../core/status.ts';
import { renderStatus } from '../text.ts';
import { money, percent, utc, weightsLine } from '../format.ts';
import { redLineRows, redLinesHeading } from '../red-line-table.ts';
import { redLineSections } from './red-lines.ts';
import { liveRates, verdictSentences, versusSummary } from '../compare.ts';
import { context, esc, section, upper, who } from './common.ts';
import type { Message } from './limits.ts';

/** `/rollout status` for Slack: the same facts as the console's status, grouped for a phone screen. */
export function statusMessage(plan: Plan, s: StatusView): Message {
  const since = s.run ? (s.active ? ` since ${utc(s.run.stageStartedAt)}` : s.run.endedAt ? ` since ${utc(s.run.endedAt)}` : '') : '';
  const head = `*Stage: ${s.active ? upper(s.state) : s.state.replace('_', ' ')}*${since}${s.autoRollback ? '' : '  _shadow mode: auto-rollback off, alerts only_'}`;
  const facts: string[] = [];
  if (s.state === 'rolled_back' && s.run?.endReason) facts.push(`Rolled back: ${esc(s.run.endReason)}`);
  const flag =
    s.flag.kind === 'malformed'
      ? `MALFORMED: ${esc(s.flag.problem)}`
      : `${weightsLine(plan, s.flag.weights)}${s.flag.kind === 'missing' ? ` (no row: all traffic on ${plan.providerNames[plan.from]})` : ''}`;
  facts.push(`*Flag* \`${plan.flagKey}\`: ${flag}`);
  if (s.drift) facts.push(`:warning: ${esc(s.drift)}`);
  const appWeights =
    s.health.kind === 'read'
      ? s.health.weights
        ? weightsLine(plan, s.health.weights)
        : `no weights (${esc(s.health.weightsProblem ?? '')})`
      : null;
  facts.push(`*Health*: ${esc(healthSummary(plan, s.health))}${appWeights ? `; app reports ${appWeights}` : ''}`);
  if (s.run && s.health.kind === 'read' && s.flag.kind !== 'malformed' && !healthConfirms(plan, s.health, s.flag.weights))
    facts.push(":warning: the app does not report the flag's weights yet");
  if (s.soak)
    facts.push(
      `*Soak*: ${formatDuration(Math.min(s.soak.elapsedMs, s.soak.totalMs))} of ${durationLabel(s.soak.totalMs)}${s.soak.leftMs ? ` (${formatDuration(s.soak.leftMs)} left)` : ' — done'}`,
    );
  const shares = Object.entries(s.split.shares)
    .map(([p, v]) => `${plan.providerNames[p] ?? p} ${percent(v)}`)
    .join(' / ');
  facts.push(`*Traffic split* (${durationLabel(s.split.windowMs)}): ${s.split.total ? shares : 'no gen_route rows'} (n=${s.split.total})`);
  if (s.run && s.active)
    facts.push(
      `*Baseline cost*: ${s.run.baselineNote === 'pending' ? 'being measured by the guard' : `${money(s.run.baselineCost)} (${esc(s.run.baselineNote)})`}`,
    );
  const judged: string[] = [];
  const versus = versusSummary(
    plan,
    s.lines.map((l) => l.evaluation),
  );
  if (versus) judged.push(`:left_right_arrow: ${esc(versus)}`);
  for (const v of verdictSentences(plan, s.verdicts, liveRates(plan, s.split))) judged.push(`:scales: ${esc(v)}`);
  if (s.metricsError) judged.push(`:warning: metrics query failed: ${esc(s.metricsError)}`);
  const foot: string[] = [];
  if (s.active)
    foot.push(
      `Guard ${s.guardEvaluatedAt ? `last evaluated ${utc(s.guardEvaluatedAt)}` : 'not evaluated yet'}, every ${durationLabel(plan.evaluateEveryMs)}`,
    );
  if (s.pending)
    foot.push(
      `Open request #${s.pending.id}: ${upper(s.pending.toStage)} by ${who(s.pending.requestedBy)}, ${s.pending.approvals.length} of ${plan.approvals} approvals`,
    );
  foot.push(`Next: ${s.allowed.length ? s.allowed.map((a) => `\`${a}\``).join(' · ') : 'nothing (the rollout is over)'}`);
  return {
    text: renderStatus(plan, s),
    blocks: [
      section(head),
      section(facts.join('\n')),
      section(`*${redLinesHeading(plan)}*`),
      ...redLineSections(plan, redLineRows(plan, s.lines)),
      ...(judged.length ? [section(judged.join('\n'))] : []),
      context(foot.join(' · ')),
    ],
  };
}
