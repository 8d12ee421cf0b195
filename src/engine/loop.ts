/**
 * The one background loop every queue of the bot runs on (the outbox, chart uploads, the Home
 * tab, the live checklists): a pass is asked for with kick(); kicks while a pass runs coalesce
 * into one more pass after it, so work is never lost nor run twice at once. `pace` may hold a
 * pass back (Slack's rate tiers); a pass that throws is reported and the loop goes on.
 */
export interface LoopOptions {
  pass: () => Promise<void>;
  onError: (err: unknown) => void;
  /** How long a requested pass must wait before it may start (0 or less: at once). */
  pace?: () => number;
}

export class BackgroundLoop {
  private running: Promise<void> | null = null;
  private again = false;
  private waiting: NodeJS.Timeout | null = null;
  private dueAt = 0;
  private interval: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly opts: LoopOptions) {}

  /** (Re)starts after stop(); with everyMs, kicks that often as well, so due work is found when nothing kicks. */
  start(everyMs?: number, opts: { unref?: boolean } = {}): void {
    this.stopped = false;
    if (everyMs === undefined) return;
    this.interval = setInterval(() => this.kick(), everyMs);
    if (opts.unref) this.interval.unref();
  }

  /** Asks for a pass: at once (or when its pace allows); while one runs, one more after it. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.waiting) return;
    const wait = Math.max(0, this.opts.pace?.() ?? 0);
    if (wait === 0) {
      this.run();
      return;
    }
    this.dueAt = Date.now() + wait;
    this.waiting = setTimeout(() => this.run(), wait);
    this.waiting.unref();
  }

  /** How long until a paced pass starts, when one is waiting. */
  dueInMs(): number | null {
    return this.waiting ? Math.max(0, this.dueAt - Date.now()) : null;
  }

  /** Starts a waiting pass now, then waits until no pass runs (tests, demo, shutdown). */
  async settle(): Promise<void> {
    if (this.waiting) {
      clearTimeout(this.waiting);
      this.run();
    }
    while (this.running) await this.running;
  }

  /** No more passes; resolves once the running one (if any) is done. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.interval) clearInterval(this.interval);
    if (this.waiting) clearTimeout(this.waiting);
    this.interval = null;
    this.waiting = null;
    while (this.running) await this.running;
  }

  private run(): void {
    this.waiting = null;
    this.again = false;
    this.running = this.opts
      .pass()
      .catch((err) => this.opts.onError(err))
      .finally(() => {
        this.running = null;
        if (this.again) this.kick();
      });
  }
}
