import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffMs } from '../../src/core/backoff.ts';
import { BackgroundLoop } from '../../src/engine/loop.ts';

/** A pass that waits until released, counting how often it ran. */
function gatedPasses() {
  let release: () => void = () => {};
  const state = { passes: 0 };
  const pass = () => {
    state.passes++;
    return new Promise<void>((resolve) => {
      release = resolve;
    });
  };
  return { state, pass, release: () => release() };
}

describe('the background loop (outbox, charts, Home tab, checklists)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs a kick at once, and kicks while a pass runs coalesce into exactly one more pass', async () => {
    const g = gatedPasses();
    const loop = new BackgroundLoop({ pass: g.pass, onError: () => {} });
    loop.kick();
    expect(g.state.passes).toBe(1);
    loop.kick();
    loop.kick();
    loop.kick();
    expect(g.state.passes).toBe(1);
    g.release();
    await vi.waitFor(() => expect(g.state.passes).toBe(2));
    g.release();
    const settled = loop.settle();
    await settled;
    expect(g.state.passes).toBe(2);
  });

  it('holds a pass back for its pace, says when it is due, and settle() runs it now', async () => {
    let passes = 0;
    const loop = new BackgroundLoop({ pass: async () => void passes++, onError: () => {}, pace: () => 10_000 });
    loop.kick();
    loop.kick();
    expect(passes).toBe(0);
    expect(loop.dueInMs()).toBe(10_000);
    vi.advanceTimersByTime(4_000);
    expect(loop.dueInMs()).toBe(6_000);
    await loop.settle();
    expect(passes).toBe(1);
    expect(loop.dueInMs()).toBeNull();
  });

  it('reports a pass that throws and goes on with the next kick', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const loop = new BackgroundLoop({
      pass: async () => {
        if (++calls === 1) throw new Error('database unavailable');
      },
      onError: (err) => errors.push(err),
    });
    loop.kick();
    await loop.settle();
    loop.kick();
    await loop.settle();
    expect(calls).toBe(2);
    expect(errors).toEqual([new Error('database unavailable')]);
  });

  it('kicks itself every everyMs once started; after stop() it neither kicks nor runs, and start() resumes', async () => {
    let passes = 0;
    const loop = new BackgroundLoop({ pass: async () => void passes++, onError: () => {} });
    loop.start(1_000);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(passes).toBe(3);
    await loop.stop();
    loop.kick();
    await vi.advanceTimersByTimeAsync(3_000);
    expect(passes).toBe(3);
    loop.start();
    loop.kick();
    await loop.settle();
    expect(passes).toBe(4);
  });

  it('stop() waits for the pass that is running', async () => {
    const g = gatedPasses();
    const loop = new BackgroundLoop({ pass: g.pass, onError: () => {} });
    loop.kick();
    let stopped = false;
    const stopping = loop.stop().then(() => {
      stopped = true;
    });
    await Promise.resolve();
    expect(stopped).toBe(false);
    g.release();
    await stopping;
    expect(stopped).toBe(true);
  });
});

describe('the one retry schedule', () => {
  it('doubles from minMs after each failure and stays at maxMs, as the outbox and chart uploads use it', () => {
    const outbox = { minMs: 1_000, maxMs: 60_000 };
    expect([1, 2, 3, 6, 7, 50].map((n) => backoffMs(n, outbox))).toEqual([1_000, 2_000, 4_000, 32_000, 60_000, 60_000]);
    const charts = { minMs: 2_000, maxMs: 5 * 60_000 };
    expect([1, 8, 9, 1_000].map((n) => backoffMs(n, charts))).toEqual([2_000, 256_000, 300_000, 300_000]);
  });

  it('with a random source, waits between half and all of the step (equal jitter)', () => {
    const b = { minMs: 1_000, maxMs: 60_000 };
    expect([backoffMs(3, b, () => 0), backoffMs(3, b, () => 1)]).toEqual([2_000, 4_000]);
  });
});
