import type { Logger } from '../../src/log.ts';
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { installProcessGuards } from '../../src/process-guards.ts';

function recorder() {
  const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
  const log: Logger = { info() {}, warn() {}, error: (msg, fields) => void lines.push({ msg, fields }), child: () => log };
  return { lines, log };
}

describe('process guards', () => {
  it('log an unhandled rejection with its stack and keep the process running', () => {
    const proc = new EventEmitter();
    const { lines, log } = recorder();
    const exits: number[] = [];
    let stopped = 0;
    installProcessGuards({ log, stop: async () => void stopped++, exit: (c) => exits.push(c) }, proc);
    proc.emit('unhandledRejection', new Error('apps.connections.open: HTTP 503'), Promise.resolve());
    expect(lines).toHaveLength(1);
    expect(lines[0].msg).toBe('unhandled promise rejection (a bug; the bot keeps running)');
    expect(lines[0].fields!.error).toBe('apps.connections.open: HTTP 503');
    expect(lines[0].fields!.stack).toContain('process-guards.test.ts');
    expect({ exits, stopped }).toEqual({ exits: [], stopped: 0 });
  });

  it('treat an uncaught exception as fatal: stop cleanly once, then exit 1', async () => {
    const proc = new EventEmitter();
    const { lines, log } = recorder();
    let stopped = 0;
    const exited = new Promise<number>((resolve) => {
      installProcessGuards({ log, stop: async () => void stopped++, exit: resolve }, proc);
    });
    proc.emit('uncaughtException', new TypeError('x is undefined'));
    proc.emit('uncaughtException', new TypeError('again, while stopping'));
    expect(await exited).toBe(1);
    expect(stopped).toBe(1);
    expect(lines.map((l) => l.msg)).toEqual([
      'uncaught exception: stopping, exit code 1 (restart me; the guard resumes from the database)',
      'uncaught exception while stopping',
    ]);
  });

  it('exit 1 even when the graceful stop hangs', async () => {
    const proc = new EventEmitter();
    const exited = new Promise<number>((resolve) => {
      installProcessGuards({ log: recorder().log, stop: () => new Promise(() => {}), exit: resolve, stopWithinMs: 10 }, proc);
    });
    proc.emit('uncaughtException', new Error('boom'));
    expect(await exited).toBe(1);
  });

  it('removes its handlers when asked', () => {
    const proc = new EventEmitter();
    const remove = installProcessGuards({ log: recorder().log, stop: async () => {} }, proc);
    remove();
    expect(proc.listenerCount('unhandledRejection') + proc.listenerCount('uncaughtException')).toBe(0);
  });
});
