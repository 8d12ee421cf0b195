import type { EChartsOption } from 'echarts';

/**
 * Fixed colours, so a reader learns them once and tests can find them in the pixels.
 * Picked to stay apart for the common colour-vision deficiencies (Okabe–Ito): blue vs orange for
 * the two providers, red for the red line, a pale red wash for breach periods.
 */
export const COLORS = {
  /** The candidate (Runware): the provider every red line is judged on. */
  candidate: '#0072B2',
  /** The incumbent (FAL): drawn for comparison only. */
  incumbent: '#E69F00',
  /** The red line's threshold. */
  threshold: '#D7191C',
  /** Breach periods: the threshold's red, washed out. */
  breach: 'rgba(215, 25, 28, 0.16)',
  /** Stage starts and the moments an alert fired. */
  marker: '#333333',
  /** The voucher rate is not per provider: all traffic, its own colour. */
  combined: '#009E73',
  text: '#1a1a1a',
  muted: '#666666',
  grid: '#dddddd',
} as const;

export const FONT_FAMILY = 'Inter';

/** Sizes in pixels at the PNG's size; Slack's phone preview shows the image about 1/3 as wide. */
export const FONT = { title: 32, panelTitle: 24, axis: 22, legend: 22, note: 21 } as const;

export interface ChartSpec {
  width: number;
  height: number;
  title: string;
  option: EChartsOption;
}
