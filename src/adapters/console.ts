import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Plan } from '../plan/plan.ts';
import type { Actor } from '../core/views.ts';
import type { EventSink } from '../engine/ports.ts';
import type { RolloutService } from '../engine/service.ts';
import { localActor } from '../engine/access.ts';
import { renderEvent, renderOutcome } from '../render/text.ts';
import type { RolloutMetrics } from './metrics.ts';

/** The console front end: prints events as they are delivered, in the words of the plan in force. */
export function consoleSink(plan: () => Plan, out: Writable): EventSink {
  return {
    async deliver(event) {
      out.write(`${renderEvent(plan(), event)}\n`);
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
  /** The OS user and host, and the name the console acts as by default (ROLLOUT_USER). */
  origin: { osUser: string; host: string };
  localUser: string;
  /** Called after each command, so events it caused are shown right away. */
  afterCommand?: () => Promise<void>;
  onQuit?: () => void;
  /** Counts what commands did (Prometheus). */
  metrics?: Pick<RolloutMetrics, 'observeOutcome'>;
}

/**
 * Reads commands line by line and acts as the local user; "as <user> <command>" names someone
 * else, so the two-person rule can be rehearsed on one machine (honoured in trial mode only: see
 * adminList; the audit always records the OS user and host next to the name). When input ends (not a terminal,
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
      let actor: Actor = localActor('console', opts.origin, opts.localUser);
      let command = text;
      const as = /^as\s+(\S+)\s*(.*)$/i.exec(text);
      if (as) {
        actor = localActor('console', opts.origin, as[1]);
        command = as[2];
      }
      const reply = await service.handle(command, actor, {
        progress: (done, total) => output.write(`[backtest] ${done} of ${total} chunks of history read\n`),
      });
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
