import type { RedLineName } from '../../plan/plan.ts';
import { durationLabel, formatDuration } from '../../plan/duration.ts';
import { RED_LINE_LABELS } from '../../core/red-lines.ts';
import type { LineSeries } from '../../core/chart-series.ts';
import { COLORS, FONT, FONT_FAMILY } from './palette.ts';

/** How each red line is drawn: its unit on the axis and the scale from the stored value. */
const UNITS: Record<RedLineName, { unit: string; scale: number; digits: number }> = {
  p95LatencyMs: { unit: 's', scale: 1 / 1000, digits: 1 },
  failureRatePercent: { unit: '%', scale: 1, digits: 1 },
  costPerImageRatio: { unit: '× baseline', scale: 1, digits: 2 },
  regenerateRatePercent: { unit: '%', scale: 1, digits: 1 },
};

export const display = (name: RedLineName, v: number | null) => (v === null ? null : v * UNITS[name].scale);

/** "10:42:30" — charts are in UTC, and say so on the axis. */
export const clockUtc = (ms: number) => new Date(ms).toISOString().slice(11, 19);
export const minuteUtc = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

/**
 * The y-axis top: a round number over both the data and the threshold, so the red line is
 * always on the chart with room above it. Fixed here (not left to ECharts) so tests can map
 * values to pixels.
 */
export function yMaxOf(line: LineSeries): number {
  const values = line.points
    .flatMap((p) => [display(line.name, p.candidate), display(line.name, p.incumbent)])
    .filter((v): v is number => v !== null);
  const top = Math.max(display(line.name, line.threshold)! * 1.25, ...values.map((v) => v * 1.08));
  const magnitude = 10 ** Math.floor(Math.log10(top));
  const step = [1, 2, 2.5, 5, 10].find((s) => top <= s * magnitude)! * magnitude;
  return step;
}

export const panelTitle = (line: LineSeries) => `${RED_LINE_LABELS[line.name]} (${UNITS[line.name].unit})`;

/** "red line ≥ 8.0 s for 5m" */
export function ruleText(line: LineSeries): string {
  const u = UNITS[line.name];
  const cmp = line.name === 'p95LatencyMs' ? '≥' : '>';
  const th = `${display(line.name, line.threshold)!.toFixed(u.digits)}${u.unit === '× baseline' ? '×' : ` ${u.unit}`}`;
  return `red line ${cmp} ${th} for ${durationLabel(line.forMs)}`;
}

/** The line's state at the end, `for` progress included: what a reader checks first. */
export function stateNote(line: LineSeries): { text: string; color: string } {
  const last = line.points.at(-1);
  if (line.held) {
    const { heldMs } = line.held;
    const text =
      heldMs < line.forMs
        ? `BREACH ${formatDuration(heldMs)} of ${durationLabel(line.forMs)}`
        : `BREACH held ${formatDuration(heldMs)}, fired`;
    return { text, color: COLORS.threshold };
  }
  if (!last) return { text: 'no data', color: COLORS.muted };
  return {
    ok: { text: 'ok', color: COLORS.muted },
    breach: { text: 'BREACH', color: COLORS.threshold },
    no_data: { text: 'no data', color: COLORS.muted },
    error: { text: 'read failed', color: COLORS.threshold },
  }[last.state];
}

export const textStyle = { fontFamily: FONT_FAMILY, color: COLORS.text, fontSize: FONT.axis };

export function timeAxis(index: number, fromMs: number, toMs: number, showName: boolean) {
  return {
    type: 'time' as const,
    gridIndex: index,
    min: fromMs,
    max: toMs,
    name: showName ? 'UTC' : '',
    nameLocation: 'end' as const,
    nameGap: 8,
    nameTextStyle: { fontSize: FONT.axis, color: COLORS.muted },
    // A plain string per tick: ECharts' own time labels style day and hour ticks with small rich text.
    axisLabel: {
      fontSize: FONT.axis,
      color: COLORS.text,
      hideOverlap: true,
      formatter: (v: number) => new Date(v).toISOString().slice(11, 16),
      rich: {},
    },
    axisLine: { lineStyle: { color: COLORS.muted } },
    splitLine: { show: false },
    splitNumber: 4,
  };
}

export function valueAxis(index: number, max: number) {
  return {
    type: 'value' as const,
    gridIndex: index,
    min: 0,
    max,
    interval: max / 4,
    axisLabel: { fontSize: FONT.axis, color: COLORS.text, formatter: (v: number) => String(Number(v.toPrecision(3))) },
    splitLine: { lineStyle: { color: COLORS.grid } },
  };
}
