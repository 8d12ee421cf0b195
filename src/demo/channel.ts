import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WebClient } from '../slack/web.ts';
import type { Message } from '../render/blocks/limits.ts';
import { ansi, changedLines, frame, messageLines, type Style } from './terminal.ts';
import type { Screen } from './screen.ts';

interface Posted {
  ts: string;
  n: number;
  message: Message;
  lines: string[];
  threadTs: string | null;
}

/**
 * A stand-in for Slack's Web API (chat.postMessage, chat.update) that prints to the terminal.
 * The real outbox sink and checklist refresher call it exactly as they call Slack; nothing
 * leaves the process. Edits print only the lines they changed.
 */
export class TerminalChannel {
  readonly posted: Posted[] = [];
  /** Charts shared (files.uploadV2), written as PNG files to chartsDir. */
  readonly charts: string[] = [];
  /** Where shared charts are written; null: charts are off. */
  chartsDir: string | null = null;
  private readonly byTs = new Map<string, Posted>();
  private counter = 0;

  constructor(
    private readonly screen: Screen,
    private readonly style: Style,
    private readonly now: () => Date,
    private readonly channelName = '#rollout',
  ) {}

  /** The WebClient the sink and the refresher use. */
  get web(): WebClient {
    const chat = {
      postMessage: async (args: { channel: string; text: string; blocks?: unknown[]; thread_ts?: string }) => {
        const ts = `${Math.floor(this.now().getTime() / 1000)}.${String(++this.counter).padStart(6, '0')}`;
        const message: Message = { text: args.text, blocks: (args.blocks ?? []) as Message['blocks'] };
        const p: Posted = { ts, n: this.counter, message, lines: messageLines(message, this.style), threadTs: args.thread_ts ?? null };
        this.posted.push(p);
        this.byTs.set(ts, p);
        const parent = p.threadTs ? this.byTs.get(p.threadTs) : undefined;
        const where = parent ? `${this.channelName} · reply in the thread of message ${parent.n}` : this.channelName;
        this.screen.print(frame(`${where} · message ${p.n} · ${this.clock()}`, p.lines, this.style));
        return { ok: true, channel: args.channel, ts, message: { ts } };
      },
      update: async (args: { channel: string; ts: string; text: string; blocks?: unknown[] }) => {
        const p = this.byTs.get(args.ts);
        const message: Message = { text: args.text, blocks: (args.blocks ?? []) as Message['blocks'] };
        const lines = messageLines(message, this.style);
        if (p) {
          const changed = changedLines(p.lines, lines);
          p.message = message;
          p.lines = lines;
          if (changed.length)
            this.screen.print(frame(`${this.channelName} · message ${p.n} edited · ${this.clock()}`, changed, this.style));
        }
        return { ok: true, channel: args.channel, ts: args.ts };
      },
    };
    const files = {
      // Slack's upload, as the poster calls it: the picture lands in a folder, and a line says where.
      uploadV2: async (args: { channel_id: string; thread_ts?: string; file: Buffer; filename: string; title: string }) => {
        if (!this.chartsDir) throw new Error('charts are off in this demo');
        const path = join(this.chartsDir, `${String(this.charts.length + 1).padStart(2, '0')}-${args.filename}`);
        writeFileSync(path, args.file);
        this.charts.push(path);
        const parent = args.thread_ts ? this.byTs.get(args.thread_ts) : undefined;
        const where = parent ? `${this.channelName} · chart in the thread of message ${parent.n}` : `${this.channelName} · chart`;
        this.screen.print(
          frame(
            `${where} · ${this.clock()}`,
            [`chart: ${args.title}`, `       ${path} (${Math.round(args.file.length / 1024)} KB)`],
            this.style,
          ),
        );
        const id = `FDEMO${this.charts.length}`;
        return { ok: true, files: [{ ok: true, files: [{ id, title: args.title }] }] };
      },
    };
    return { chat, files } as unknown as WebClient;
  }

  /** The value of the newest button with this action id still shown in the channel, as a person would click it. */
  buttonValue(actionId: string): string | null {
    for (const p of [...this.posted].reverse()) {
      for (const b of p.message.blocks) {
        if (b.type !== 'actions') continue;
        const el = b.elements.find((e) => e.action_id === actionId);
        if (el) return el.value;
      }
    }
    return null;
  }

  /** A private reply (ephemeral in Slack): only the person who acted sees it. */
  ephemeral(to: string, message: Message): void {
    const a = ansi(this.style.color);
    this.screen.print(frame(a.dim(`only visible to @${to} · ${this.clock()}`), messageLines(message, this.style), this.style));
  }

  private clock(): string {
    return `${this.now().toISOString().slice(11, 19)} UTC`;
  }
}
