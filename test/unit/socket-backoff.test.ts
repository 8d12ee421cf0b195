import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../../src/slack/backoff.ts';

describe('Socket Mode reconnection backoff', () => {
  const band = (attempt: number) => [backoffDelayMs(attempt, () => 0), backoffDelayMs(attempt, () => 1)];

  it('doubles from 1 s with up to half of it random, and levels off at 60 s however long the outage', () => {
    expect([1, 2, 3, 4, 7].map(band)).toEqual([
      [500, 1000],
      [1000, 2000],
      [2000, 4000],
      [4000, 8000],
      [30_000, 60_000],
    ]);
    expect(band(8)).toEqual([30_000, 60_000]);
    expect(band(10_000)).toEqual([30_000, 60_000]);
  });

  it('takes its bounds from the tuning, as tests shorten them', () => {
    expect(backoffDelayMs(3, () => 0.5, { minMs: 50, maxMs: 150 })).toBe(113);
  });
});
