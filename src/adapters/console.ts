import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Plan } from '../plan/plan.ts';
import type { Actor } from '../core/views.ts';
import type { EventSink } from '../engine/outbox.ts';
import type { RolloutService } from '../engine/service.ts';
import { renderEvent, renderOutcome } from '../render/text.ts';
import type { RolloutMetrics } from './metrics.ts';

/** The console front end: prints events as they are delivered. */
export function consoleSink(plan: Plan, out: Writable): EventSink {
  return {
    async deliver(event) {
      out.write(`${renderEvent(plan, event)}\n`);
    },
    async notice(text) {
      out.write(`[notice] ${text}\n`);
    },
  };
}

export interface ConsoleOptions {
  service: RolloutService;
  input: Readable;
  output: Writable;
  localUser: string;
  /** Called after each command, so events it caused are shown right away. */
  afterCommand?: () => Promise<void>;
  onQuit?: () => void;
  /** Counts what commands did (Prometheus). */
  metrics?: Pick<RolloutMetrics, 'observeOutcome'>;
}

/**
 * Reads commands line by line and acts as the local user; "as <user> <command>" acts as someone
 * else, so the two-person rule can be tried on one machine. When input ends (not a terminal,
 * e.g. under a process manager) the bot keeps running.
 */
export function startConsole(opts: ConsoleOptions): { done: Promise<void> } {
  const { service, output } = opts;
  const interactive = (opts.input as { isTTY?: boolean }).isTTY === true;
  const rl = createInterface({ input: opts.input, output: interactive ? output : undefined, terminal: interactive });
  const prompt = () => interactive && rl.prompt();
  rl.setPrompt('rollout> ');
  output.write(`Console ready as "${opts.localUser}". Type "help"; "as <user> <command>" acts as another user.\n`);
  prompt();
  let queue = Promise.resolve();
  rl.on('line', (line) => {
    queue = queue.then(async () => {
      const text = line.trim();
      if (text === 'quit' || text === 'exit') {
        rl.close();
        opts.onQuit?.();
        return;
      }
      if (!text) {
        prompt();
        return;
      }
      let actor: Actor = { id: opts.localUser, via: 'console' };
      let command = text;
      const as = /^as\s+(\S+)\s*(.*)$/i.exec(text);
      if (as) {
        actor = { id: as[1], via: 'console' };
        command = as[2];
      }
      const reply = await service.handle(command, actor, { progress: (done, total) => output.write(`[backtest] ${done} of ${total} chunks of history read\n`) });
      opts.metrics?.observeOutcome(reply.outcome);
      output.write(`${renderOutcome(service.plan, reply.outcome)}\n`);
      await opts.afterCommand?.();
      prompt();
    });
  });
  const done = new Promise<void>((resolve) =>
    rl.on('close', () => {
      void queue.then(() => {
        if (!interactive) output.write('Console input ended; the bot keeps running (Ctrl-C or SIGTERM stops it).\n');
        resolve();
      });
    }),
  );
  return { done };
}
