import type { LineSeriesOption } from 'echarts';
import type { Plan } from '../../plan/plan.ts';
import { RED_LINES } from '../../plan/plan.ts';
import type { ChartSeries, LineSeries } from '../../core/chart-series.ts';
import { COLORS, FONT, type ChartSpec } from './palette.ts';
import { clockUtc, display, panelTitle, ruleText, stateNote, textStyle, timeAxis, valueAxis, yMaxOf } from './axes.ts';

/** A vertical marker across every panel: a stage start, a rollback, a would-be rollback. */
export interface ChartMark {
  atMs: number;
  label: string;
}

const PANELS_SIZE = { width: 1200, height: 1000 } as const;
const HEADER = 120;
const PANEL_HEAD = 78;
const AXIS_FOOT = 44;
const LEFT = 72;
const RIGHT = 36;

/** Where panel k (0..3, row by row) plots, in PNG pixels; tests map data to pixels with it. */
export function panelGrid(k: number, size = PANELS_SIZE) {
  const colW = size.width / 2;
  const rowH = (size.height - HEADER) / 2;
  const col = k % 2;
  const row = Math.floor(k / 2);
  const top = HEADER + row * rowH;
  return {
    left: col * colW + LEFT,
    top: top + PANEL_HEAD,
    width: colW - LEFT - RIGHT,
    height: rowH - PANEL_HEAD - AXIS_FOOT,
    headTop: top,
    headLeft: col * colW + 24,
  };
}

/** Series names as the legend shows them. */
export const seriesNames = (plan: Plan) => ({
  candidate: plan.providerNames[plan.to],
  incumbent: plan.providerNames[plan.from],
  combined: 'all traffic',
  threshold: 'red line',
  breach: 'breach',
});

/**
 * The four red lines as small multiples (2×2): the candidate and the incumbent as two series
 * (the voucher rate, not per provider, as one), the threshold, breach periods shaded, the
 * moment each breach held for its whole `for`, and the marks given (stage starts, rollbacks).
 */
export function panelsSpec(
  plan: Plan,
  data: ChartSeries,
  opts: { title: string; subtitle: string; marks: ChartMark[]; firedLabel?: string },
): ChartSpec {
  const names = seriesNames(plan);
  const grids = RED_LINES.map((_, k) => panelGrid(k));
  const lines = RED_LINES.map((n) => data.lines[n]);
  const maxes = lines.map(yMaxOf);
  return {
    ...PANELS_SIZE,
    title: opts.title,
    option: {
      useUTC: true,
      backgroundColor: '#ffffff',
      textStyle,
      title: [
        { text: opts.title, left: 24, top: 14, textStyle: { fontSize: FONT.title, fontWeight: 600, color: COLORS.text } },
        { text: opts.subtitle, left: 24, top: 56, textStyle: { fontSize: FONT.note, fontWeight: 400, color: COLORS.muted } },
        ...lines.flatMap((line, k) => {
          const note = stateNote(line);
          return [
            {
              text: panelTitle(line),
              left: grids[k].headLeft,
              top: grids[k].headTop + 8,
              textStyle: { fontSize: FONT.panelTitle, fontWeight: 600, color: COLORS.text },
            },
            {
              text: note.text,
              right: PANELS_SIZE.width - (grids[k].left + grids[k].width),
              top: grids[k].headTop + 10,
              textStyle: { fontSize: FONT.note, fontWeight: 600, color: note.color },
            },
            {
              text: ruleText(line),
              left: grids[k].headLeft,
              top: grids[k].headTop + 42,
              textStyle: { fontSize: FONT.note, fontWeight: 400, color: COLORS.threshold },
            },
          ];
        }),
      ],
      legend: {
        top: 86,
        right: 24,
        itemWidth: 34,
        itemHeight: 16,
        itemGap: 22,
        textStyle: { fontSize: FONT.legend, color: COLORS.text },
        data: [names.candidate, names.incumbent, names.combined, names.threshold, { name: names.breach, icon: 'rect' }],
      },
      grid: grids.map((g) => ({ left: g.left, top: g.top, width: g.width, height: g.height, containLabel: false })),
      xAxis: grids.map((_, k) => timeAxis(k, data.fromMs, data.toMs, k >= 2)),
      yAxis: grids.map((_, k) => valueAxis(k, maxes[k])),
      series: [
        ...lines.flatMap((line, k) => lineSeries(plan, line, k, data, opts.marks, 3, opts.firedLabel ?? 'fired')),
        // Only for the legend's swatch.
        { type: 'line', name: names.breach, data: [], itemStyle: { color: COLORS.breach }, lineStyle: { color: COLORS.breach } },
      ],
    },
  };
}

/** The series of one panel (shared with the alert chart, which draws one panel large). */
export function lineSeries(
  plan: Plan,
  line: LineSeries,
  k: number,
  span: { fromMs: number; toMs: number },
  marks: ChartMark[],
  width = 3,
  firedLabel: string | null = 'fired',
): LineSeriesOption[] {
  const names = seriesNames(plan);
  const combined = line.name === 'regenerateRatePercent';
  const th = display(line.name, line.threshold);
  const common = {
    type: 'line' as const,
    xAxisIndex: k,
    yAxisIndex: k,
    showSymbol: false,
    connectNulls: false,
    sampling: 'lttb' as const,
    emphasis: { disabled: true },
  };
  const markLabel = { fontSize: FONT.note, color: COLORS.marker, position: 'insideEndTop' as const, formatter: '{b}' };
  return [
    {
      ...common,
      name: names.threshold,
      z: 2,
      data: [
        [span.fromMs, th],
        [span.toMs, th],
      ],
      lineStyle: { color: COLORS.threshold, width: width - 1 },
      itemStyle: { color: COLORS.threshold },
      markArea: {
        silent: true,
        itemStyle: { color: COLORS.breach },
        data: line.breaches.map(
          (b) =>
            [{ xAxis: b.fromMs }, { xAxis: Math.max(b.toMs, b.fromMs + plan.evaluateEveryMs / 2) }] as [
              { xAxis: number },
              { xAxis: number },
            ],
        ),
      },
      markLine: {
        silent: true,
        symbol: 'none',
        animation: false,
        lineStyle: { color: COLORS.marker, type: 'dashed' as const, width: 2 },
        label: { ...markLabel, show: k < 2 || firedLabel === null },
        data: marks.filter((m) => m.atMs >= span.fromMs && m.atMs <= span.toMs).map((m) => ({ name: m.label, xAxis: m.atMs })),
      },
    },
    ...(combined
      ? []
      : [
          {
            ...common,
            name: names.incumbent,
            z: 3,
            data: line.points.map((p) => [p.atMs, display(line.name, p.incumbent)]),
            lineStyle: { color: COLORS.incumbent, width: width - 0.5 },
            itemStyle: { color: COLORS.incumbent },
          },
        ]),
    {
      ...common,
      name: combined ? names.combined : names.candidate,
      z: 4,
      data: line.points.map((p) => [p.atMs, display(line.name, p.candidate)]),
      lineStyle: { color: combined ? COLORS.combined : COLORS.candidate, width },
      itemStyle: { color: combined ? COLORS.combined : COLORS.candidate },
      markLine: {
        silent: true,
        symbol: 'none',
        animation: false,
        lineStyle: { color: COLORS.threshold, type: 'solid' as const, width: 2 },
        label: { ...markLabel, color: COLORS.threshold, position: 'insideEndBottom' as const },
        data: line.breaches
          .filter((b) => firedLabel !== null && b.firedAtMs !== null)
          .map((b) => ({ name: `${firedLabel} ${clockUtc(b.firedAtMs!).slice(0, 5)}`, xAxis: b.firedAtMs! })),
      },
    },
  ];
}
