import { describe, expect, it } from 'vitest';
import { addDecimal, divideLikePostgres, formatDecimal, parseDecimal, ZERO } from '../../src/core/decimal.ts';

describe('exact decimals', () => {
  it.each([
    ['0', '0'],
    ['12', '12'],
    ['0.00450', '0.00450'],
    ['25.123', '25.123'],
    ['000.5', '0.5'],
  ])('parses and prints %s as numeric prints it', (text, printed) => {
    expect(formatDecimal(parseDecimal(text))).toBe(printed);
  });

  it.each(['-1', '1e3', '.5', '5.', 'NaN', '', ' 1'])('refuses %j', (text) => {
    expect(() => parseDecimal(text)).toThrow(/not a non-negative decimal/);
  });

  it('adds without drift and keeps the larger scale, as SUM(numeric) does', () => {
    let s = ZERO;
    for (let i = 0; i < 10; i++) s = addDecimal(s, parseDecimal('0.1'));
    expect(formatDecimal(s)).toBe('1.0');
    expect(formatDecimal(addDecimal(parseDecimal('0.00450'), parseDecimal('3')))).toBe('3.00450');
  });

  // Expected values are what PostgreSQL 15 prints for avg() over the same values (checked there;
  // test/integration/rolling-windows.test.ts compares against the database on every run).
  it.each([
    ['1.0', 10, '0.10000000000000000000'],
    ['25.12300', 5000, '0.00502460000000000000'],
    ['2', 3, '0.66666666666666666667'],
    ['0', 7, '0.00000000000000000000'],
    ['12345', 1, '12345.0000000000000000'],
    ['0.000000000000000000000001', 3, '0.00000000000000000000000033333333333333333333'],
  ])('%s ÷ %i = %s (numeric division: ≥ 16 significant digits, half away from zero)', (sum, n, expected) => {
    expect(divideLikePostgres(parseDecimal(sum), n)).toBe(expected);
  });

  it('refuses a count that is not a positive integer', () => {
    expect(() => divideLikePostgres(ZERO, 0)).toThrow();
    expect(() => divideLikePostgres(ZERO, 1.5)).toThrow();
  });
});
