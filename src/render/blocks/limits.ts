/**
 * Block Kit's limits (Slack docs): a message over them is refused with invalid_blocks, so every
 * message passes through fitMessage before it is sent. Clipping keeps the start of each text,
 * which is where the renderers put the facts that matter.
 */
export const LIMITS = {
  blocks: 50,
  sectionText: 3000,
  fields: 10,
  fieldText: 2000,
  contextElements: 10,
  contextText: 2000,
  headerText: 150,
  buttonText: 75,
  buttonValue: 2000,
  actionId: 255,
  actionsElements: 25,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  /** The notification / screen-reader fallback; Slack truncates long ones anyway. */
  fallbackText: 3000,
} as const;

export type TextObject = { type: 'mrkdwn' | 'plain_text'; text: string; emoji?: boolean };
export interface Confirm {
  title: TextObject;
  text: TextObject;
  confirm: TextObject;
  deny: TextObject;
  style?: 'primary' | 'danger';
}
export interface ButtonElement {
  type: 'button';
  text: TextObject;
  action_id: string;
  value: string;
  style?: 'primary' | 'danger';
  confirm?: Confirm;
}
export type Block =
  | { type: 'section'; text?: TextObject; fields?: TextObject[]; block_id?: string }
  | { type: 'header'; text: TextObject }
  | { type: 'context'; elements: TextObject[] }
  | { type: 'actions'; elements: ButtonElement[]; block_id?: string }
  | { type: 'divider' };

export interface Message {
  /** Plain fallback for notifications, screen readers and clients without blocks. */
  text: string;
  blocks: Block[];
}

export const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

const clipText = (t: TextObject, max: number): TextObject => ({ ...t, text: clip(t.text, max) });

/** A button value is data, not prose: clipping would corrupt it, so an oversized one is a bug. */
export class BlockLimitError extends Error {}

function fitButton(b: ButtonElement): ButtonElement {
  if (b.value.length > LIMITS.buttonValue) throw new BlockLimitError(`button ${b.action_id}: value is ${b.value.length} characters, over ${LIMITS.buttonValue}`);
  if (b.action_id.length > LIMITS.actionId) throw new BlockLimitError(`action_id over ${LIMITS.actionId} characters`);
  const out: ButtonElement = { ...b, text: clipText(b.text, LIMITS.buttonText) };
  if (b.confirm) {
    out.confirm = {
      ...b.confirm,
      title: clipText(b.confirm.title, LIMITS.confirmTitle),
      text: clipText(b.confirm.text, LIMITS.confirmText),
      confirm: clipText(b.confirm.confirm, LIMITS.confirmButton),
      deny: clipText(b.confirm.deny, LIMITS.confirmButton),
    };
  }
  return out;
}

function fitBlock(b: Block): Block {
  switch (b.type) {
    case 'section':
      return {
        ...b,
        ...(b.text ? { text: clipText(b.text, LIMITS.sectionText) } : {}),
        ...(b.fields ? { fields: b.fields.slice(0, LIMITS.fields).map((f) => clipText(f, LIMITS.fieldText)) } : {}),
      };
    case 'header':
      return { ...b, text: clipText(b.text, LIMITS.headerText) };
    case 'context':
      return { ...b, elements: b.elements.slice(0, LIMITS.contextElements).map((e) => clipText(e, LIMITS.contextText)) };
    case 'actions':
      return { ...b, elements: b.elements.slice(0, LIMITS.actionsElements).map(fitButton) };
    case 'divider':
      return b;
  }
}

/** Clips a message to Block Kit's limits; when blocks must be dropped, the last one says so. */
export function fitMessage(m: Message): Message {
  let blocks = m.blocks;
  if (blocks.length > LIMITS.blocks) {
    const dropped = blocks.length - (LIMITS.blocks - 1);
    blocks = [...blocks.slice(0, LIMITS.blocks - 1), { type: 'context', elements: [{ type: 'mrkdwn', text: `…${dropped} more not shown; see \`/rollout status\`.` }] }];
  }
  return { text: clip(m.text, LIMITS.fallbackText), blocks: blocks.map(fitBlock) };
}
