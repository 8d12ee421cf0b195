import type { Plan } from '../../plan/plan.ts';
import type { RolloutEvent } from '../../core/events.ts';
import { ITEM_ICON, type ChecklistItem } from '../checklist.ts';
import { utc, weightsLine } from '../format.ts';
import { ACTION, encodeValue } from './buttons.ts';
import { rollbackButton } from './controls.ts';
import { actions, button, context, esc, section, upper, who, whoList } from './common.ts';
import { fitMessage, type Block, type ButtonElement, type Message } from './limits.ts';
import { redLineSection } from './red-lines.ts';

type Started = Extract<RolloutEvent, { kind: 'stage_started' }>;

export interface ChecklistView {
  started: Started;
  /** null until the first measurement. */
  items: ChecklistItem[] | null;
  ready: boolean;
  /** An open request for the next stage, when there is one. */
  pendingRequest: { id: number; stage: string } | null;
  /** Set once the stage is over (next stage, rollback, complete): the message freezes. */
  ended: string | null;
  checkedAt: Date | null;
}

/** One message per stage, edited in place as its items turn green (or red). */
export function checklistMessage(plan: Plan, v: ChecklistView): Message {
  const e = v.started;
  const stage = upper(e.stage);
  const i = plan.stages.findIndex((s) => s.name === e.stage);
  const next = plan.stages[i + 1] ?? null;
  const head =
    `:clipboard: *${stage} checklist* — ${weightsLine(plan, e.previousWeights)} → *${weightsLine(plan, e.weights)}*\n` +
    `Started ${utc(e.at)}, requested by ${who(e.by)}${e.approvers.length ? `, approved by ${whoList(e.approvers)}` : ''}${e.forced ? ' (*forced*)' : ''}`;
  const blocks = [
    section(head),
    ...(v.items
      ? itemBlocks(plan, v.items)
      : [section(`⏳ Weights written at ${utc(e.at)}; reading back, checking health, split and red lines…`)]),
  ];
  if (v.ended) {
    blocks.push(section(`*Ended*: ${esc(v.ended)}`));
  } else {
    let verdict: string;
    if (v.ready && next)
      verdict = `:large_green_circle: *${stage} is ready*: soak done and everything green. Request ${upper(next.name)} when you are.`;
    else if (!next) verdict = `:eyes: Last stage: watched continuously; \`/rollout complete\` ends the watch.`;
    else verdict = `Not ready for ${upper(next.name)} yet.`;
    if (v.pendingRequest) verdict += ` Request #${v.pendingRequest.id} for ${upper(v.pendingRequest.stage)} is open.`;
    blocks.push(section(verdict));
    const buttons: ButtonElement[] = [];
    if (v.ready && next && !v.pendingRequest) {
      buttons.push(
        button(`Request ${upper(next.name)}`, ACTION.requestStage, encodeValue({ run: e.runId, from: e.stage, to: next.name }), {
          style: 'primary',
        }),
      );
    }
    buttons.push(rollbackButton(e.runId, e.stage));
    blocks.push(actions(...buttons));
  }
  if (v.checkedAt) blocks.push(context(`Checked ${utc(v.checkedAt)}`));
  // Information lines (the comparison with FAL, an unset health endpoint) are not items to tick.
  const checked = v.items?.filter((it) => it.state !== 'info');
  const done = checked?.filter((it) => it.state === 'done').length ?? 0;
  const text = `${stage} checklist: ${v.ended ? `ended (${v.ended})` : v.ready ? 'ready for the next stage' : `${done} of ${checked?.length ?? '?'} items green`}`;
  return fitMessage({ text, blocks });
}

/** The items in order: plain items grouped in one section, each red line a section of its own with both providers as fields. */
function itemBlocks(plan: Plan, items: ChecklistItem[]): Block[] {
  const blocks: Block[] = [];
  let plain: string[] = [];
  const flush = () => {
    if (plain.length) blocks.push(section(plain.join('\n')));
    plain = [];
  };
  for (const it of items) {
    if (!it.row) {
      plain.push(`${ITEM_ICON[it.state]} ${esc(it.text)}`);
      continue;
    }
    flush();
    blocks.push(redLineSection(plan, { ...it.row, icon: ITEM_ICON[it.state] }));
  }
  flush();
  return blocks;
}
