import { createRequire } from 'node:module';
import type * as Echarts from 'echarts';
import type * as Resvg from '@resvg/resvg-js';
import type { ChartRenderer } from '../engine/ports.ts';
import type { ChartSpec } from '../render/charts/palette.ts';
import { FONT_FAMILY } from '../render/charts/palette.ts';

/*
 * The only place charts touch a renderer: ECharts draws the spec as SVG on the server (no DOM,
 * no canvas), resvg rasterises it to PNG. The font comes from npm (Inter, TTF) and system fonts
 * are never loaded, so the picture is the same on a slim container and on a laptop.
 */

const require = createRequire(import.meta.url);
const FONT_FILES = ['400Regular/Inter_400Regular.ttf', '600SemiBold/Inter_600SemiBold.ttf'].map((f) =>
  require.resolve(`@expo-google-fonts/inter/${f}`),
);

// ECharts takes ~0.5 s to load and resvg maps a native library (~6 MB resident): only a process
// that draws a chart pays for them (never the break-glass CLI's rollback, nor an idle replica).
let echarts: typeof Echarts | null = null;
let resvg: typeof Resvg | null = null;
const rasteriser = () => (resvg ??= require('@resvg/resvg-js') as typeof Resvg);

export function renderSvg(spec: ChartSpec): string {
  echarts ??= require('echarts') as typeof Echarts;
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: spec.width, height: spec.height });
  try {
    chart.setOption({ ...spec.option, animation: false });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

// ECharts writes some text styles as the CSS `font:` shorthand, which resvg ignores (the text
// falls back to 12 px); spell them out.
const FONT_SHORTHAND = /font:\s*(normal|italic|oblique)\s+(normal|bold|bolder|lighter|\d{3})\s+([\d.]+)px\s+([^;"]+)/g;
const longhand = (svg: string) => svg.replace(FONT_SHORTHAND, 'font-style:$1;font-weight:$2;font-size:$3px;font-family:$4');

const resvgOptions = (fitWidth?: number) => ({
  ...(fitWidth ? { fitTo: { mode: 'width' as const, value: fitWidth } } : {}),
  font: { fontFiles: FONT_FILES, loadSystemFonts: false, defaultFontFamily: FONT_FAMILY, sansSerifFamily: FONT_FAMILY },
  background: '#ffffff',
});

export function svgToPng(svg: string, fitWidth?: number): Buffer {
  return new (rasteriser().Resvg)(longhand(svg), resvgOptions(fitWidth)).render().asPng();
}

/** Spec → PNG bytes, the picture Slack and the `chart` command show. */
export const renderPng = (spec: ChartSpec, fitWidth?: number): Buffer => svgToPng(renderSvg(spec), fitWidth);

/**
 * The same picture for the bot's own process: rasterising (most of the time) runs on libuv's
 * thread pool, so a chart for Slack does not hold the event loop the guard and Bolt share.
 */
async function renderPngAsync(spec: ChartSpec): Promise<Buffer> {
  const svg = renderSvg(spec);
  return (await rasteriser().renderAsync(longhand(svg), resvgOptions())).asPng();
}

/** The engine's chart port. */
export const chartPng: ChartRenderer = { png: (spec) => renderPng(spec), pngAsync: renderPngAsync };
