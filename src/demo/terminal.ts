import type { Block, Message } from '../render/blocks/limits.ts';

/**
 * Block Kit as a terminal shows it: the same messages the Slack bot posts, read as text.
 * mrkdwn bold becomes ANSI bold (or plain without colour), user mentions become @names,
 * emoji codes become emoji, buttons become [ Label ].
 */
export interface Style {
  color: boolean;
  /** Slack user ID → name shown (the simulated admins). */
  names: Record<string, string>;
}

const EMOJI: Record<string, string> = {
  rotating_light: '🚨',
  large_green_circle: '🟢',
  rewind: '⏪',
  warning: '⚠️',
  information_source: 'ℹ️',
  clipboard: '📋',
  raised_hand: '✋',
  white_check_mark: '✅',
  x: '❌',
  zzz: '💤',
  hourglass: '⌛',
  hourglass_flowing_sand: '⏳',
  bar_chart: '📊',
  ghost: '👻',
  checkered_flag: '🏁',
  eyes: '👀',
  no_entry: '⛔',
  outbox_tray: '📤',
  ballot_box_with_check: '☑️',
  rocket: '🚀',
  grey_question: '❔',
  thread: '🧵',
};

export const ansi = (color: boolean) => ({
  bold: (s: string) => (color ? `\x1b[1m${s}\x1b[22m` : s),
  dim: (s: string) => (color ? `\x1b[2m${s}\x1b[22m` : s),
  red: (s: string) => (color ? `\x1b[31m${s}\x1b[39m` : s),
  green: (s: string) => (color ? `\x1b[32m${s}\x1b[39m` : s),
  cyan: (s: string) => (color ? `\x1b[36m${s}\x1b[39m` : s),
  yellow: (s: string) => (color ? `\x1b[33m${s}\x1b[39m` : s),
});

/** One mrkdwn string as terminal text. */
export function mrkdwnText(text: string, style: Style): string {
  const a = ansi(style.color);
  return text
    .replace(/<@([A-Z0-9_]+)>/g, (_, id: string) => `@${style.names[id] ?? id}`)
    .replace(/:([a-z0-9_+-]+):/g, (all, code: string) => EMOJI[code] ?? all)
    .replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,:;!?])/g, (_, pre: string, inner: string) => `${pre}${a.bold(inner)}`)
    .replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,:;!?])/g, (_, pre: string, inner: string) => `${pre}${inner}`)
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The lines of a message, one block after another, without decoration. */
export function messageLines(message: Message, style: Style): string[] {
  const a = ansi(style.color);
  const out: string[] = [];
  const add = (text: string) => out.push(...text.split('\n'));
  for (const b of message.blocks as Block[]) {
    switch (b.type) {
      case 'header':
        add(a.bold(mrkdwnText(b.text.text, style)));
        break;
      case 'section':
        if (b.text) add(mrkdwnText(b.text.text, style));
        if (b.fields) add(b.fields.map((f) => mrkdwnText(f.text, style)).join('   '));
        break;
      case 'context':
        add(a.dim(b.elements.map((e) => mrkdwnText(e.text, style)).join('  ·  ')));
        break;
      case 'actions':
        add(
          b.elements
            .map((e) => (e.style === 'danger' ? a.red : e.style === 'primary' ? a.green : (s: string) => s)(`[ ${e.text.text} ]`))
            .join(' '),
        );
        break;
      case 'divider':
        out.push('────────');
        break;
    }
  }
  if (!out.length) add(message.text);
  return out;
}

/**
 * A line's shape: its words and icons with numbers and durations blanked, so "BREACH for 1m 30s
 * of 5m" and "BREACH for 2m of 5m" are the same line with a new value.
 */
const lineShape = (line: string) => line.replace(/\d+(\.\d+)?/g, '#').replace(/#[hms]( #[hms])*/g, '#t');

/**
 * What an edit changed that a reader should notice: lines whose shape is new (an icon, a state,
 * a verdict, a button). Lines where only a number moved (soak minutes, a value, "Checked at")
 * are left to the progress line, or the terminal would reprint every checklist every 30 s.
 */
export function changedLines(prev: string[], next: string[]): string[] {
  const before = new Set(prev.map(lineShape));
  return next.filter((l) => !before.has(lineShape(l)));
}

/** A framed message: a header line, then each line behind a bar. */
export function frame(header: string, lines: string[], style: Style): string {
  const a = ansi(style.color);
  return [a.cyan(`┌ ${header}`), ...lines.map((l) => `${a.cyan('│')} ${l}`), a.cyan('└')].join('\n');
}
