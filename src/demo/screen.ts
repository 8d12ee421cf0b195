import type { Writable } from 'node:stream';

/**
 * The terminal: messages scroll, one progress line stays at the bottom. When the output is not a
 * terminal (a pipe, a file, a test) there is no line to redraw: progress is printed as plain
 * lines, at most once per `plainEveryMs` of simulated time.
 */
export class Screen {
  readonly tty: boolean;
  readonly color: boolean;
  private shown = false;
  private lastPlainAt = -Infinity;

  constructor(
    private readonly out: Writable,
    opts: { tty?: boolean; color?: boolean; plainEveryMs?: number } = {},
  ) {
    this.tty = opts.tty ?? (out as { isTTY?: boolean }).isTTY === true;
    this.color = opts.color ?? (this.tty && !process.env.NO_COLOR);
    this.plainEveryMs = opts.plainEveryMs ?? 5 * 60_000;
  }

  private readonly plainEveryMs: number;

  print(text: string): void {
    this.clear();
    this.out.write(`${text}\n`);
  }

  /** The progress line; `simMs` is the simulated time it describes. */
  progress(text: string, simMs: number): void {
    if (this.tty) {
      const width = (this.out as { columns?: number }).columns ?? 120;
      this.out.write(`\r\x1b[2K${text.length > width - 1 ? `${text.slice(0, width - 2)}…` : text}`);
      this.shown = true;
      return;
    }
    if (simMs - this.lastPlainAt < this.plainEveryMs) return;
    this.lastPlainAt = simMs;
    this.out.write(`${text}\n`);
  }

  clear(): void {
    if (!this.shown) return;
    this.out.write('\r\x1b[2K');
    this.shown = false;
  }
}
