import { describeError } from './engine/errors.ts';
import type { Logger } from './log.ts';

export interface ProcessGuardOptions {
  log: Logger;
  /** The graceful stop a fatal error still gets: leader lock released, database closed. */
  stop: () => Promise<void>;
  exit?: (code: number) => void;
  /** A stop that hangs must not keep a broken process alive. */
  stopWithinMs?: number;
}

/**
 * The process-wide policy for errors nobody caught, so none ends the bot silently:
 * - a rejected promise nobody awaited (a Slack call, a socket ack…) is logged with its stack and
 *   the bot keeps running: it left no half-done synchronous state, and the guard must not die
 *   with a side channel;
 * - an uncaught exception is fatal: the stack it unwound may have left anything half-changed,
 *   so the bot stops cleanly and exits 1 for the process manager to restart it; the guard then
 *   resumes from the database.
 * Returns a function that removes the handlers.
 */
export function installProcessGuards(opts: ProcessGuardOptions, proc: NodeJS.EventEmitter = process): () => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let fatal = false;
  const onRejection = (reason: unknown) => {
    opts.log.error('unhandled promise rejection (a bug; the bot keeps running)', { error: describeError(reason), stack: stackOf(reason) });
  };
  const onException = (err: unknown) => {
    opts.log.error(
      fatal
        ? 'uncaught exception while stopping'
        : 'uncaught exception: stopping, exit code 1 (restart me; the guard resumes from the database)',
      { error: describeError(err), stack: stackOf(err) },
    );
    if (fatal) return;
    fatal = true;
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, opts.stopWithinMs ?? 10_000).unref());
    void Promise.race([opts.stop().catch(() => {}), deadline]).then(() => exit(1));
  };
  proc.on('unhandledRejection', onRejection);
  proc.on('uncaughtException', onException);
  return () => {
    proc.off('unhandledRejection', onRejection);
    proc.off('uncaughtException', onException);
  };
}

function stackOf(err: unknown): string | undefined {
  return err instanceof Error
    ? err.stack
        ?.split('\n')
        .slice(1, 6)
        .map((l) => l.trim())
        .join(' | ')
    : undefined;
}
