import type { Plan } from '../../plan/plan.ts';
import type { RedLineRow, Side } from '../red-line-table.ts';
import { esc } from './common.ts';
import type { Block } from './limits.ts';

const field = (text: string) => ({ type: 'mrkdwn' as const, text });
const side = (name: string, s: Side, judged: boolean) => field(`${judged ? `*${name}*` : name}  ${s.value}  ·  n=${s.n}`);

/**
 * A red line as a section people scan: the line, its threshold, window and state on top, then
 * two fields side by side, the judged provider (bold) and the other one. `extra` follows the
 * state (a report's change since the last one).
 */
export function redLineSection(plan: Plan, r: RedLineRow, extra = ''): Block {
  const top = `${r.icon} *${r.label}* ${esc(r.threshold)} · ${r.window} window: ${esc(r.state)}${extra ? ` · ${esc(extra)}` : ''}${r.note ? `\n_${esc(r.note)}_` : ''}`;
  const fields = [side(r.allTraffic ? 'All traffic' : plan.providerNames[plan.to], r.to, true)];
  if (r.from) fields.push(side(plan.providerNames[plan.from], r.from, false));
  return { type: 'section', text: { type: 'mrkdwn', text: top }, fields };
}

export const redLineSections = (plan: Plan, rows: RedLineRow[], extras: string[] = []) =>
  rows.map((r, i) => redLineSection(plan, r, extras[i] ?? ''));
