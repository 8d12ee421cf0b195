import type { Stats } from './timing.ts';

/** Formatting for the one table the bench prints. */

export const ms = (s: Stats | null | undefined): string => {
  if (!s?.n) return '—';
  const f = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
  return `${f(s.median)} / ${f(s.p95)}`;
};

export const bytes = (b: number): string => {
  if (b >= 1024 ** 3) return `${(b / 1024 ** 3).toFixed(2)} GB`;
  if (b >= 1024 ** 2) return `${(b / 1024 ** 2).toFixed(0)} MB`;
  return `${(b / 1024).toFixed(0)} kB`;
};

export const ratio = (a: number | null | undefined, b: number | null | undefined, digits = 2): string =>
  a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? '—' : `${(a / b).toFixed(digits)}×`;

export const int = (n: number) => n.toLocaleString('en-US');

/** A plain-text table with a header rule; the first column left-aligned, the rest right-aligned. */
export function table(header: string[], rows: (string[] | 'rule')[]): string {
  const body = rows.filter((r): r is string[] => r !== 'rule');
  const width = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join(' | ');
  const rule = width.map((w) => '-'.repeat(w)).join('-+-');
  return [line(header), rule, ...rows.map((r) => (r === 'rule' ? rule : line(r)))].join('\n');
}
