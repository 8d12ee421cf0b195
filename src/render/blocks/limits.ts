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
  /** Views (the Home tab, modals): more blocks than a message, and a size cap (view_too_large). */
  viewBlocks: 100,
  viewBytes: 250_000,
  privateMetadata: 3000,
  /** Modal title, submit and close labels. */
  modalLabel: 24,
  imageAltText: 2000,
  inputLabel: 2000,
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
  | { type: 'divider' }
  | { type: 'image'; slack_file: { id: string }; alt_text: string; title?: TextObject }
  | { type: 'input'; block_id: string; label: TextObject; optional: boolean; hint?: TextObject; element: PlainTextInput };

interface PlainTextInput {
  type: 'plain_text_input';
  action_id: string;
  multiline: boolean;
  max_length: number;
  placeholder?: TextObject;
}

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
  if (b.value.length > LIMITS.buttonValue)
    throw new BlockLimitError(`button ${b.action_id}: value is ${b.value.length} characters, over ${LIMITS.buttonValue}`);
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
    case 'image':
      return { ...b, alt_text: clip(b.alt_text, LIMITS.imageAltText) };
    case 'input':
      return { ...b, label: clipText(b.label, LIMITS.inputLabel) };
  }
}

/** Clips a message to Block Kit's limits; when blocks must be dropped, the last one says so. */
export function fitMessage(m: Message): Message {
  return { text: clip(m.text, LIMITS.fallbackText), blocks: fitBlocks(m.blocks, LIMITS.blocks) };
}

/** At most `max` blocks, each within its limits; the last one says how many were dropped. */
function fitBlocks(blocks: Block[], max: number): Block[] {
  if (blocks.length > max) {
    const dropped = blocks.length - (max - 1);
    blocks = [
      ...blocks.slice(0, max - 1),
      { type: 'context', elements: [{ type: 'mrkdwn', text: `…${dropped} more not shown; see \`/rollout status\`.` }] },
    ];
  }
  return blocks.map(fitBlock);
}

export interface HomeView {
  type: 'home';
  blocks: Block[];
}

export interface ModalView {
  type: 'modal';
  callback_id: string;
  /** What the form was made for (run, stage, request): data, so never clipped. */
  private_metadata: string;
  title: TextObject;
  submit?: TextObject;
  close: TextObject;
  blocks: Block[];
}

export type View = HomeView | ModalView;

const viewBytes = (v: View) => new TextEncoder().encode(JSON.stringify(v)).length;

/**
 * Clips a view to Slack's limits: 100 blocks, and a payload Slack takes (view_too_large over
 * 250 kB), dropping blocks from the end, where the renderers put what matters least.
 */
export function fitView<V extends View>(v: V): V {
  if (v.type === 'modal' && v.private_metadata.length > LIMITS.privateMetadata) {
    throw new BlockLimitError(
      `modal ${v.callback_id}: private_metadata is ${v.private_metadata.length} characters, over ${LIMITS.privateMetadata}`,
    );
  }
  const labels =
    v.type === 'modal'
      ? {
          title: clipText(v.title, LIMITS.modalLabel),
          close: clipText(v.close, LIMITS.modalLabel),
          ...(v.submit ? { submit: clipText(v.submit, LIMITS.modalLabel) } : {}),
        }
      : {};
  let max: number = LIMITS.viewBlocks;
  let out = { ...v, ...labels, blocks: fitBlocks(v.blocks, max) };
  while (viewBytes(out) > LIMITS.viewBytes && max > 2) {
    max = Math.min(max - 1, out.blocks.length - 1);
    out = { ...out, blocks: fitBlocks(v.blocks, max) };
  }
  return out;
}
