import type { Plan } from '../../plan/plan.ts';
import type { LineSeries } from '../../core/chart-series.ts';
import { RED_LINE_LABELS } from '../../core/red-lines.ts';
import { COLORS, FONT, type ChartSpec } from './palette.ts';
import { clockUtc, minuteUtc, panelTitle, ruleText, textStyle, timeAxis, valueAxis, yMaxOf } from './axes.ts';
import { lineSeries, seriesNames } from './panels.ts';

const ALERT_SIZE = { width: 1200, height: 640 } as const;
/** Where the one panel plots, in PNG pixels. */
export const ALERT_GRID = { left: 84, top: 150, width: 1200 - 84 - 60, height: 640 - 150 - 60 } as const;

export interface AlertWindow {
  /** The red line's evaluations over the window around the alert. */
  line: LineSeries;
  fromMs: number;
  toMs: number;
  /** The first evaluation in breach (the clock's breachSince). */
  crossedAtMs: number | null;
  /** When the alert fired: the rollback (auto or manual) or the would-be rollback. */
  firedAtMs: number | null;
  /** What fired, in words: "Automatic rollback", "Manual rollback by @alice", "Breach". */
  what: string;
}

/** One red line around an alert, large: the moment it crossed and the moment the alert fired. */
export function alertWindowSpec(plan: Plan, w: AlertWindow): ChartSpec {
  const names = seriesNames(plan);
  const marks = [
    ...(w.crossedAtMs !== null ? [{ atMs: w.crossedAtMs, label: `crossed ${clockUtc(w.crossedAtMs)}` }] : []),
    ...(w.firedAtMs !== null ? [{ atMs: w.firedAtMs, label: `fired ${clockUtc(w.firedAtMs)}` }] : []),
  ];
  const title = `${w.what}: ${RED_LINE_LABELS[w.line.name]}`;
  const at = w.firedAtMs ?? w.crossedAtMs ?? w.toMs;
  return {
    ...ALERT_SIZE,
    title,
    option: {
      useUTC: true,
      backgroundColor: '#ffffff',
      textStyle,
      title: [
        { text: title, left: 24, top: 14, textStyle: { fontSize: FONT.title, fontWeight: 600, color: COLORS.text } },
        {
          text: `${minuteUtc(at)} UTC · ${panelTitle(w.line)} · ${ruleText(w.line)}`,
          left: 24,
          top: 58,
          textStyle: { fontSize: FONT.note, fontWeight: 400, color: COLORS.muted },
        },
      ],
      legend: {
        top: 98,
        left: 24,
        itemWidth: 34,
        itemHeight: 16,
        itemGap: 22,
        textStyle: { fontSize: FONT.legend, color: COLORS.text },
        data: [
          w.line.name === 'regenerateRatePercent' ? names.combined : names.candidate,
          ...(w.line.name === 'regenerateRatePercent' ? [] : [names.incumbent]),
          names.threshold,
          { name: names.breach, icon: 'rect' },
        ],
      },
      grid: [{ ...ALERT_GRID, containLabel: false }],
      xAxis: [timeAxis(0, w.fromMs, w.toMs, true)],
      yAxis: [valueAxis(0, yMaxOf(w.line))],
      series: [
        ...lineSeries(plan, w.line, 0, { fromMs: w.fromMs, toMs: w.toMs }, marks, 4, null),
        { type: 'line', name: names.breach, data: [], itemStyle: { color: COLORS.breach }, lineStyle: { color: COLORS.breach } },
      ],
    },
  };
}
