import type { RedLineName } from '../plan/plan.ts';
import { formatDuration } from '../plan/duration.ts';
import type { RolloutEvent } from '../core/events.ts';
import { RED_LINE_LABELS } from '../core/red-lines.ts';
import { formatThreshold, formatValue } from '../render/format.ts';
import { ansi } from './terminal.ts';

export interface Moment {
  at: Date;
  text: string;
  /** Moments measured from the fault's start. */
  key?: 'fault' | 'breach' | 'rollback' | 'alert';
}

/** What happened, in simulated time, for the closing timeline and for the demo's test. */
export class Timeline {
  readonly moments: Moment[] = [];
  faultAt: Date | null = null;
  rollbackAt: Date | null = null;
  rollbackKind: 'auto' | 'manual' | null = null;
  firedLine: RedLineName | null = null;
  noTrafficAt: Date | null = null;
  readonly firstBreach: Partial<Record<RedLineName, Date>> = {};

  constructor(private readonly names: Record<string, string>) {}

  add(at: Date, text: string, key?: Moment['key']): void {
    this.moments.push({ at, text, key });
  }

  fault(at: Date, text: string): void {
    this.faultAt = at;
    this.add(at, `fault starts: ${text}`, 'fault');
  }

  /** Every event the bot delivers passes here first (the sink is wrapped). */
  event(e: RolloutEvent): void {
    const name = (id: string) => (id === 'guard' ? 'the guard' : `@${this.names[id] ?? id}`);
    switch (e.kind) {
      case 'request_opened':
        this.add(new Date(e.request.requestedAt), `${name(e.request.requestedBy)} requests ${e.request.toStage.toUpperCase()}`);
        return;
      case 'stage_started':
        this.add(new Date(e.at), `${e.stage.toUpperCase()} starts (approved by ${e.approvers.map(name).join(', ') || 'nobody'})`);
        return;
      case 'breach_started': {
        const l = e.line;
        const first = !this.firstBreach[l.name];
        if (first) this.firstBreach[l.name] = new Date(e.at);
        this.add(
          new Date(e.at),
          `${first ? 'first breach' : 'breach again'}: ${RED_LINE_LABELS[l.name]} ${formatValue(l.name, l.value, l.threshold)} (red line ${formatThreshold(l.name, l.threshold)}, n=${l.samples})`,
          'breach',
        );
        return;
      }
      case 'breach_recovered':
        this.add(new Date(e.at), `${RED_LINE_LABELS[e.line.name]} recovered`);
        return;
      case 'auto_rollback':
        if (e.shadow) {
          this.add(new Date(e.at), `shadow mode: would have rolled back (${RED_LINE_LABELS[e.line.name]})`, 'rollback');
          return;
        }
        this.rollbackAt = new Date(e.at);
        this.rollbackKind = 'auto';
        this.firedLine = e.line.name;
        this.add(
          new Date(e.at),
          `AUTO-ROLLBACK: ${RED_LINE_LABELS[e.line.name]} held in breach ${formatDuration(e.heldMs)}; flag back to FAL 100%`,
          'rollback',
        );
        return;
      case 'manual_rollback':
        this.rollbackAt = new Date(e.at);
        this.rollbackKind = 'manual';
        this.add(new Date(e.at), `manual rollback by ${name(e.by)}: ${e.reason ?? 'no reason'}`, 'rollback');
        return;
      case 'no_traffic':
        this.noTrafficAt ??= new Date(e.at);
        this.add(new Date(e.at), `alert: traffic is not reaching Runware (${e.candidateRequests} requests in the window)`, 'alert');
        return;
      case 'traffic_restored':
        this.add(new Date(e.at), 'traffic reaches Runware again');
        return;
      case 'guard_error':
        this.add(new Date(e.at), `guard cannot read metrics: ${e.message}`);
        return;
      default:
        return;
    }
  }

  render(color: boolean, footer: string[]): string {
    const a = ansi(color);
    const rel = (at: Date) => {
      if (!this.faultAt) return '';
      const d = at.getTime() - this.faultAt.getTime();
      return `${d < 0 ? '−' : '+'}${formatDuration(Math.abs(d))}`;
    };
    const sorted = [...this.moments].sort((x, y) => x.at.getTime() - y.at.getTime());
    const lines = sorted.map((m) => {
      const text =
        m.key === 'rollback'
          ? a.bold(m.text)
          : m.key === 'breach' || m.key === 'alert'
            ? a.yellow(m.text)
            : m.key === 'fault'
              ? a.red(m.text)
              : m.text;
      return `  ${m.at.toISOString().slice(11, 19)}  ${(m.key ? rel(m.at) : '').padEnd(10)} ${text}`;
    });
    return [a.bold('Timeline') + a.dim(" (simulated UTC; offsets from the fault's start)"), ...lines, '', ...footer].join('\n');
  }
}
