import type { Plan } from '../../plan/plan.ts';
import type { Outcome } from '../../core/outcomes.ts';
import type { AuditEntry } from '../../core/views.ts';
import { renderOutcome } from '../text.ts';
import { utc, weightsLine } from '../format.ts';
import { context, esc, section, upper, who, whoList } from './common.ts';
import { fitMessage, type Message } from './limits.ts';
import { statusMessage } from './status.ts';
import { backtestLines, rollbackCount } from '../backtest.ts';

/**
 * The reply to one person's command or click (ephemeral). What the whole channel must know is
 * posted separately from the outbox, so these stay short.
 */
export function outcomeMessage(plan: Plan, o: Outcome): Message {
  const text = renderOutcome(plan, o);
  const one = (mrkdwn: string): Message => ({ text, blocks: [section(mrkdwn)] });
  const n = (k: number) => `${k} approval${k === 1 ? '' : 's'}`;
  switch (o.kind) {
    case 'status':
      return fitMessage(statusMessage(plan, o.status));
    case 'help':
      return fitMessage({ text, blocks: [section(`*\`/rollout\` commands*\n${o.lines.map((l) => `• ${esc(l)}`).join('\n')}`)] });
    case 'usage':
      return fitMessage({
        text,
        blocks: [section(`:grey_question: Not understood: ${esc(o.problem)}.`), section(o.lines.map((l) => `• ${esc(l)}`).join('\n'))],
      });
    case 'refused':
      return fitMessage(one(`:no_entry: *Refused*: ${esc(o.message)}`));
    case 'requested':
      return fitMessage(
        one(
          `:outbox_tray: Requested *${upper(o.request.toStage)}* (request #${o.request.id}${o.request.forced ? ', forced' : ''}). It needs ${n(o.needed)} from another admin; the request is in the rollout channel.`,
        ),
      );
    case 'approval_recorded':
      return fitMessage(
        one(
          `:ballot_box_with_check: Approval recorded for *${upper(o.request.toStage)}* (request #${o.request.id}): ${o.request.approvals.length} of ${o.needed}.`,
        ),
      );
    case 'stage_started':
      return fitMessage(
        one(
          `:rocket: *${upper(o.stage)}* started: ${weightsLine(plan, o.weights)}${o.approvers.length ? `, approved by ${whoList(o.approvers)}` : ''}${o.forced ? ' (forced)' : ''}. The checklist is in the rollout channel.`,
        ),
      );
    case 'rejected':
      return fitMessage(
        one(
          `:x: Request #${o.request.id} for *${upper(o.request.toStage)}* rejected${o.request.decisionNote ? `: ${esc(o.request.decisionNote)}` : ''}.`,
        ),
      );
    case 'rolled_back':
      return fitMessage(
        one(
          `:rewind: *Rolled back*: ${weightsLine(plan, o.weights)}${o.reason ? ` (${esc(o.reason)})` : ''}. Start again with \`${plan.stages[0].name}\`.`,
        ),
      );
    case 'completed':
      return fitMessage(
        one(
          `:checkered_flag: Rollout complete; the guard stops watching. \`/rollout rollback\` still reverts to ${plan.providerNames[plan.from]}.`,
        ),
      );
    case 'history':
      if (!o.entries.length) return one('No history yet.');
      return fitMessage({
        text,
        blocks: [section('*History* (newest first)'), ...o.entries.map((e) => context(historyLine(e)))],
      });
    case 'chart':
      // Only the console and CLI draw to a file (Slack is refused); this is the same words in blocks.
      return fitMessage(one(`:chart_with_upwards_trend: ${esc(text)}`));
    case 'backtest': {
      const b = backtestLines(plan, o.result);
      return fitMessage({
        text,
        blocks: [
          section(`:rewind: *Backtest* requested by ${who(o.requestedBy)}\n${esc(b.title)}`),
          section(b.lines.map((l) => `• ${esc(l)}`).join('\n')),
          section(
            `*Auto-rollbacks that would have fired (${rollbackCount(plan, o.result)})*\n${b.rollbacks.map((l) => `• ${esc(l)}`).join('\n')}`,
          ),
          context(esc(b.footer)),
        ],
      });
    }
    case 'unavailable':
      return fitMessage(one(`:warning: ${esc(o.message)}`));
    case 'error':
      return fitMessage(one(`:warning: ${esc(o.message)}`));
  }
}

/** One audit entry as `history` shows it (the Home tab lists the latest ones the same way). */
export const historyLine = (e: AuditEntry) =>
  `${utc(e.at)} · ${who(e.actor)} (${esc(e.via)}) · *${esc(e.action)}* ${esc(e.outcome)}${detail(e.detail)}`;

function detail(d: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const key of ['stage', 'to', 'reason', 'message', 'request', 'forced']) {
    const v = d[key];
    if (v !== undefined && v !== null && v !== false) parts.push(`${key}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  return parts.length ? ` · ${esc(parts.join(' ')).slice(0, 300)}` : '';
}

/** Said when the core has not answered in time; the command may still complete. */
export function slowDatabaseMessage(waitedMs: number): Message {
  const text = `The database has not answered within ${(waitedMs / 1000).toFixed(waitedMs % 1000 ? 1 : 0)} s; it may be unavailable. Your command may still complete: its result will follow here, and changes are announced in the rollout channel.`;
  return { text, blocks: [section(`:hourglass_flowing_sand: ${text}`)] };
}

/** The channel message a long report hangs under, so the channel stays readable. */
export function threadRootMessage(plan: Plan, o: Outcome): Message {
  if (o.kind !== 'backtest') return outcomeMessage(plan, o);
  const r = o.result;
  const text = `Backtest ${utc(r.from)} → ${utc(r.to)} requested by ${o.requestedBy}: ${r.rollbacks.length} auto-rollback${r.rollbacks.length === 1 ? '' : 's'} would have fired. Details in the thread.`;
  return {
    text,
    blocks: [
      section(
        `:rewind: *Backtest* ${utc(r.from)} → ${utc(r.to)}, requested by ${who(o.requestedBy)}: *${r.rollbacks.length}* auto-rollback${r.rollbacks.length === 1 ? '' : 's'} would have fired. Details in the thread.`,
      ),
    ],
  };
}

export function postedInThreadMessage(): Message {
  const text = 'Done: the result is in a thread in the rollout channel.';
  return { text, blocks: [section(`:thread: ${text}`)] };
}
