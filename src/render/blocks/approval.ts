import type { Plan } from '../../plan/plan.ts';
import type { RequestJson, RolloutEvent } from '../../core/events.ts';
import { lineIcon, lineSummary, weightsLine } from '../format.ts';
import { decisionButtons } from './controls.ts';
import { actions, context, esc, hhmm, section, upper, who, whoList } from './common.ts';
import { fitMessage, type Message } from './limits.ts';

type Opened = Extract<RolloutEvent, { kind: 'request_opened' }>;

/**
 * The approval request in the rollout channel. Posted with Approve / Reject while pending and
 * edited in place as approvals arrive; once decided it says by whom and the buttons are gone.
 */
export function approvalMessage(plan: Plan, opened: Opened, current: RequestJson, needed: number): Message {
  const r = current;
  const stage = upper(r.toStage);
  const head = `:raised_hand: *${who(r.requestedBy)} requests ${stage}* (request #${r.id}${r.forced ? ', *forced* past the soak or a breach' : ''})`;
  const fromStage = plan.stages.some((s) => s.name === r.fromState) ? upper(r.fromState) : null;
  const facts = [`${weightsLine(plan, opened.fromWeights)} → *${weightsLine(plan, opened.toWeights)}*`];
  if (fromStage) facts.push(opened.soakDone ? `Soak of ${fromStage}: done` : `Soak of ${fromStage}: *not done*`);
  const lines = opened.lines.length
    ? `*Red lines now*\n${opened.lines.map((l) => `${lineIcon(l)} ${esc(lineSummary(plan, l))}`).join('\n')}`
    : '*Red lines now*: not evaluated yet (no active stage)';
  const blocks = [section(head), section(facts.join('\n')), section(lines)];
  const approvals = r.approvals.length
    ? `Approved so far by ${whoList(r.approvals.map((a) => a.by))} (${r.approvals.length} of ${needed})`
    : `Needs ${needed} approval${needed === 1 ? '' : 's'} from an admin other than ${who(r.requestedBy)}`;
  if (r.status === 'pending') {
    blocks.push(context(approvals), actions(...decisionButtons(plan, r)));
  } else {
    blocks.push(section(decision(r)));
  }
  return fitMessage({ text: `${r.requestedBy} requests ${stage} (request #${r.id}): ${r.status}`, blocks });
}

function decision(r: RequestJson): string {
  const at = r.decidedAt ? ` at ${hhmm(r.decidedAt)}` : '';
  const stage = upper(r.toStage);
  switch (r.status) {
    case 'approved':
      return `:white_check_mark: *Approved* by ${whoList(r.approvals.map((a) => a.by))}${at}; ${stage} started.`;
    case 'rejected':
      return `:x: *Rejected* by ${who(r.decidedBy ?? 'unknown')}${at}${r.decisionNote ? `: ${esc(r.decisionNote)}` : ''}.`;
    case 'stale':
      return `:zzz: *Stale*${at}: ${esc(r.decisionNote ?? 'the rollout moved on')}. Request again if still wanted.`;
    case 'expired':
      return `:hourglass: *Expired*${at} without enough approvals. Request again if still wanted.`;
    case 'pending':
      return '';
  }
}
