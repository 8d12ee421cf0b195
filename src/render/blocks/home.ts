import type { Plan } from '../../plan/plan.ts';
import type { StatusView } from '../../core/status.ts';
import type { AuditEntry } from '../../core/views.ts';
import { utc } from '../format.ts';
import { actions, context, plain, section, upper, who } from './common.ts';
import { decisionButtons, rollbackButton } from './controls.ts';
import { fitView, type Block, type HomeView, type Message } from './limits.ts';
import { historyLine } from './outcome.ts';
import { statusMessage } from './status.ts';

/** How many audit entries the Home tab lists. */
export const HOME_HISTORY = 10;

export interface HomeInput {
  status: StatusView;
  /** Newest first; the first HOME_HISTORY are shown. */
  history: AuditEntry[];
  /** The latest chart uploaded to Slack, if any. */
  chart: { fileId: string; title: string; at: Date } | null;
  /** Admins see the buttons; everyone else sees the same facts without them. */
  admin: boolean;
  /** The answer to this person's last click on the Home tab, shown on top until the next publish. */
  notice: Message | null;
}

/**
 * The rollout at a glance, per person: what `/rollout status` shows, the latest chart, the open
 * request and the last history entries. Buttons carry the run, stage and request they were
 * drawn for, so a Home tab left open acts on nothing the rollout has moved past.
 */
export function homeView(plan: Plan, h: HomeInput): HomeView {
  const s = h.status;
  const blocks: Block[] = [{ type: 'header', text: plain(`Rollout ${plan.providerNames[plan.from]} → ${plan.providerNames[plan.to]}`) }];
  if (h.notice) blocks.push(...h.notice.blocks, { type: 'divider' });
  blocks.push(...statusMessage(plan, s).blocks);

  blocks.push({ type: 'divider' });
  if (h.chart) {
    blocks.push({
      type: 'image',
      slack_file: { id: h.chart.fileId },
      alt_text: h.chart.title,
      title: plain(`${h.chart.title} (${utc(h.chart.at)})`),
    });
  } else {
    blocks.push(context('No chart yet: one comes with the first report of the stage, under its checklist in the channel.'));
  }

  if (s.pending) {
    const p = s.pending;
    blocks.push(
      section(
        `:raised_hand: *Open request #${p.id}*: ${upper(p.toStage)}, requested by ${who(p.requestedBy)} at ${utc(p.requestedAt)}; ${p.approvals.length} of ${plan.approvals} approvals.`,
      ),
    );
    if (h.admin) blocks.push(actions(...decisionButtons(plan, p)));
  }
  if (h.admin && s.run && s.allowed.includes('rollback')) {
    blocks.push(actions(rollbackButton(s.run.id, s.run.state, `Roll back ${upper(s.run.state)}`)));
  }
  if (!h.admin) blocks.push(context('Only rollout admins see the buttons here.'));

  blocks.push({ type: 'divider' }, section(`*History* (latest ${HOME_HISTORY}, newest first)`));
  const entries = h.history.slice(0, HOME_HISTORY);
  blocks.push(...(entries.length ? entries.map((e) => context(historyLine(e))) : [context('No history yet.')]));
  blocks.push(context(`Updated ${utc(s.at)}; refreshed when the rollout changes, and every minute while a stage runs.`));
  return fitView({ type: 'home', blocks });
}
