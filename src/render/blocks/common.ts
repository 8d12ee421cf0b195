import type { Block, ButtonElement, Confirm, TextObject } from './limits.ts';

/** Small builders shared by the Block Kit renderers. */

/** Slack mrkdwn treats &, < and > as control characters; anything a person typed is escaped. */
export const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A Slack user ID becomes a mention; the guard and unknown hands stay words. */
export function who(id: string): string {
  if (id === 'guard') return 'the guard';
  if (id === 'unknown') return 'someone outside the bot';
  return /^[UW][A-Z0-9_]+$/.test(id) ? `<@${id}>` : esc(id);
}

export const whoList = (ids: string[]) => ids.map(who).join(', ');

const mrkdwn = (text: string): TextObject => ({ type: 'mrkdwn', text });
export const plain = (text: string): TextObject => ({ type: 'plain_text', text, emoji: true });

export const section = (text: string): Block => ({ type: 'section', text: mrkdwn(text) });
export const context = (...texts: string[]): Block => ({ type: 'context', elements: texts.map(mrkdwn) });
export const actions = (...elements: ButtonElement[]): Block => ({ type: 'actions', elements });

export function button(
  text: string,
  actionId: string,
  value: string,
  opts: { style?: 'primary' | 'danger'; confirm?: Confirm } = {},
): ButtonElement {
  return {
    type: 'button',
    text: plain(text),
    action_id: actionId,
    value,
    ...(opts.style ? { style: opts.style } : {}),
    ...(opts.confirm ? { confirm: opts.confirm } : {}),
  };
}

export function confirm(title: string, text: string, yes: string, style: 'primary' | 'danger' = 'danger'): Confirm {
  return { title: plain(title), text: mrkdwn(text), confirm: plain(yes), deny: plain('Cancel'), style };
}

/** "10:35 UTC" for messages about today; the full date only in the checklist header and history. */
export const hhmm = (at: Date | string) => `${(typeof at === 'string' ? at : at.toISOString()).slice(11, 16)} UTC`;
/** With seconds: the guard acts on a 30 s beat, so a deadline without them is off by up to half a minute. */
export const hhmmss = (at: Date | string) => `${(typeof at === 'string' ? at : at.toISOString()).slice(11, 19)} UTC`;

export const upper = (stage: string) => stage.toUpperCase();
