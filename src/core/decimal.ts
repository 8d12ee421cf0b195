/**
 * Exact non-negative decimals (as Postgres `numeric` prints them), for sums that must not drift:
 * the guard adds per-minute cost sums and must get the same average as one AVG over the window.
 * Pure; BigInt underneath.
 */
export interface Decimal {
  /** The value times 10^scale. */
  units: bigint;
  /** Digits after the point, as Postgres' display scale (dscale). */
  scale: number;
}

export const ZERO: Decimal = { units: 0n, scale: 0 };

const pow10 = (n: number) => 10n ** BigInt(n);

/** Parses numeric's text output ("12", "0.00450", "25.123"); refuses anything else. */
export function parseDecimal(text: string): Decimal {
  const m = /^([0-9]+)(?:\.([0-9]+))?$/.exec(text);
  if (!m) throw new Error(`not a non-negative decimal: ${JSON.stringify(text)}`);
  const frac = m[2] ?? '';
  return { units: BigInt(m[1] + frac), scale: frac.length };
}

/** a + b with the larger scale, as numeric addition (and SUM) keeps it. */
export function addDecimal(a: Decimal, b: Decimal): Decimal {
  const scale = Math.max(a.scale, b.scale);
  return { units: a.units * pow10(scale - a.scale) + b.units * pow10(scale - b.scale), scale };
}

export function formatDecimal(d: Decimal): string {
  const s = d.units.toString().padStart(d.scale + 1, '0');
  return d.scale ? `${s.slice(0, s.length - d.scale)}.${s.slice(s.length - d.scale)}` : s;
}

/** Postgres numeric's base-10000 weight and first digit of a non-negative decimal (0, 0 for zero). */
function weightAndFirstDigit(d: Decimal): { weight: number; first: bigint } {
  if (d.units === 0n) return { weight: 0, first: 0n };
  const s4 = Math.ceil(d.scale / 4) * 4;
  let u = d.units * pow10(s4 - d.scale);
  let groups = 0;
  let first = 0n;
  while (u > 0n) {
    first = u % 10000n;
    u /= 10000n;
    groups++;
  }
  return { weight: groups - 1 - s4 / 4, first };
}

/**
 * sum ÷ count exactly as Postgres' numeric division does it (and so AVG(numeric), which is
 * SUM ÷ COUNT through numeric_div): the result scale from select_div_scale (at least 16
 * significant digits, never less than either input's scale), rounded half away from zero.
 * Returns the text Postgres would print.
 */
export function divideLikePostgres(sum: Decimal, count: number): string {
  if (!Number.isInteger(count) || count <= 0) throw new Error(`count must be a positive integer (got ${count})`);
  const n: Decimal = { units: BigInt(count), scale: 0 };
  const a = weightAndFirstDigit(sum);
  const b = weightAndFirstDigit(n);
  let qweight = a.weight - b.weight;
  if (a.first <= b.first) qweight--;
  const rscale = Math.min(1000, Math.max(16 - qweight * 4, sum.scale, 0));
  // sum / count at rscale digits: (units / 10^scale) / count * 10^rscale
  const num = sum.units * pow10(rscale);
  const den = n.units * pow10(sum.scale);
  let q = num / den;
  if ((num % den) * 2n >= den) q += 1n;
  return formatDecimal({ units: q, scale: rscale });
}
