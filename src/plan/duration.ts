const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** "30s", "5m", "1h" → milliseconds; null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,6})(s|m|h)$/.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/**
 * 3_720_000 → "1h 2m"; 45_000 → "45s". Rounded down to the second. Not date-fns: its
 * formatDuration writes locale words ("1 hour 2 minutes"), and intervalToDuration measures a
 * calendar interval in the local time zone (days, months, an hour gained or lost across a DST
 * change), where this is a plain count of milliseconds that may run past 24h ("25h").
 */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const parts: string[] = [];
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (s || parts.length === 0) parts.push(`${s}s`);
  return parts.join(' ');
}

/** Like formatDuration but for a plan value: 300_000 → "5m". */
export function durationLabel(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}
