import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { awaitOutcome } from './background.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** `npm start` without npm: the node arguments of package.json's start script (`exec node … dist/main.js`). */
export function startArgs(): string[] {
  const start: string = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')).scripts.start;
  const [node, ...args] = start.replace(/^exec\s+/, '').split(/\s+/);
  if (node !== 'node') throw new Error(`the start script no longer runs node directly: ${start}`);
  return args;
}

/**
 * What the child runs: the compiled build, as production does, where this run built it
 * (test/support/build.ts, the real-postgres project); else the sources through tsx, which can
 * never be stale. Outside vitest (the benches) the caller says.
 */
function defaultCompiled(): boolean {
  return process.env.VITEST ? typeof inject('compiledBot') === 'string' : false;
}

/**
 * Resolves once this run's build of dist/ is done (test/support/build.ts builds it in the
 * background); fails with tsc's errors when it failed. Anything that runs dist/ awaits it first.
 */
export function compiledBuild(timeoutMs = 180_000): Promise<void> {
  return awaitOutcome(inject('compiledBot'), 'npm run build', timeoutMs);
}

/**
 * The real bot as a child process (`npm start`'s entry point), driven through its console:
 * what a restart, a SIGKILL or a second replica really does, not a simulation.
 */
export class BotProcess {
  output = '';
  private readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  private constructor(env: Record<string, string>, compiled: boolean) {
    this.child = spawn(process.execPath, compiled ? startArgs() : ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'info', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const append = (d: Buffer) => (this.output += d.toString());
    this.child.stdout!.on('data', append);
    this.child.stderr!.on('data', append);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    const watchdog = dieWithParent(this.child.pid!);
    this.child.on('exit', () => watchdog.kill('SIGKILL'));
  }

  static async start(env: Record<string, string>, ready = /Console ready/, compiled = defaultCompiled()): Promise<BotProcess> {
    if (compiled) await compiledBuild();
    const bot = new BotProcess(env, compiled);
    // How long a start takes is the benches' business (bench/process.ts); here, with several bots
    // starting at once beside files that compute on two loaded cores, starts have taken over 30 s.
    await bot.waitFor(ready, 60_000);
    return bot;
  }

  get pid(): number {
    return this.child.pid!;
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  /** Resolves when the output (stdout and stderr) matches; fails with the output so far. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const started = Date.now();
    for (;;) {
      const m = this.output.match(pattern);
      if (m) return m;
      if (this.child.exitCode !== null) throw new Error(`bot exited (${this.child.exitCode}) before ${pattern}:\n${this.output}`);
      if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${pattern}:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  count(pattern: RegExp): number {
    return (this.output.match(new RegExp(pattern.source, 'g')) ?? []).length;
  }

  /** Closes our end of its stdout and stderr, as a log reader that dies does. */
  detachOutput(): void {
    this.child.stdout!.destroy();
    this.child.stderr!.destroy();
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
    await this.exited;
  }
}

/**
 * The bot must not outlive the test that started it, even when vitest SIGKILLs the worker (a
 * timeout, a crash, ^C) and no cleanup runs: a detached shell watches both and SIGKILLs the bot
 * once its parent is gone. It exits with the bot, and is killed when the bot exits first.
 */
function dieWithParent(childPid: number): ChildProcess {
  const watch = `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${childPid} 2>/dev/null; do sleep 0.5; done; kill -KILL ${childPid} 2>/dev/null`;
  const watchdog = spawn('sh', ['-c', watch], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  return watchdog;
}

/** Polls a condition (a database read, typically) until it holds. */
export async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const started = Date.now();
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
