import { describe, expect, it } from 'vitest';
import { formatThreshold, formatValue } from '../../src/render/format.ts';

describe('a value beside its threshold prints on the side it is on', () => {
  it('p95 just under and just over 8 s', () => {
    expect(formatThreshold('p95LatencyMs', 8000)).toBe('≥ 8.00 s');
    expect(formatValue('p95LatencyMs', 7995.5, 8000)).toBe('7.995 s');
    expect(formatValue('p95LatencyMs', 8004.05, 8000)).toBe('8.004 s');
    // At the threshold, or far from it, two decimals as always.
    expect(formatValue('p95LatencyMs', 8000, 8000)).toBe('8.00 s');
    expect(formatValue('p95LatencyMs', 7990, 8000)).toBe('7.99 s');
    // Without a threshold (a delta, a chart label), two decimals.
    expect(formatValue('p95LatencyMs', 7995.5)).toBe('8.00 s');
  });

  it('p95 under a second crosses units without looking equal', () => {
    expect(formatValue('p95LatencyMs', 999.6, 1000)).toBe('999.6 ms');
    expect(formatValue('p95LatencyMs', 499.6, 500)).toBe('499.6 ms');
    expect(formatValue('p95LatencyMs', 320, 8000)).toBe('320 ms');
  });

  it('rates near 2 % and 5 %, cost near 1.2×', () => {
    expect(formatValue('failureRatePercent', 2.004, 2)).toBe('2.004%');
    expect(formatValue('failureRatePercent', 1.9996, 2)).toBe('1.9996%');
    expect(formatValue('failureRatePercent', 2, 2)).toBe('2.00%');
    expect(formatValue('failureRatePercent', 3.2258, 2)).toBe('3.23%');
    expect(formatValue('regenerateRatePercent', 5.0001, 5)).toBe('5.0001%');
    expect(formatValue('regenerateRatePercent', 4.996, 5)).toBe('4.996%');
    expect(formatValue('costPerImageRatio', 1.2004, 1.2)).toBe('1.2004× baseline');
    expect(formatValue('costPerImageRatio', 1.19999, 1.2)).toBe('1.19999× baseline');
  });

  it('closer than six decimals says the side in words', () => {
    expect(formatValue('failureRatePercent', 2.0000001, 2)).toBe('just above 2.00%');
    expect(formatValue('p95LatencyMs', 7999.9999999, 8000)).toBe('just below 8.00 s');
  });
});
