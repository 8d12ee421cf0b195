/** A clock moved by hand: the engine never reads the real time (tests and the demo drive it). */
export class ManualClock {
  private t: number;
  constructor(start = '2026-11-28T10:00:00Z') {
    this.t = Date.parse(start);
  }
  now = (): Date => new Date(this.t);
  advance(ms: number): Date {
    this.t += ms;
    return this.now();
  }
  set(iso: string | Date): Date {
    this.t = typeof iso === 'string' ? Date.parse(iso) : iso.getTime();
    return this.now();
  }
}

export const SECOND = 1_000;
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
