import { describe, expect, it } from 'vitest';
import { Random } from '../../src/demo/random.ts';
import { TrafficGenerator } from '../../src/demo/traffic.ts';
import type { Fault } from '../../src/demo/faults.ts';

/** A pool that keeps what the generator would insert, by event type. */
function recordingPool() {
  const rows: Record<string, { data: any; at: Date }[]> = { gen_route: [], gen_ok: [], voucher_issued: [] };
  const pool = {
    async query(sql: string, params: unknown[]) {
      const type = sql.includes("'gen_route'") ? 'gen_route' : (params[0] as string);
      const [data, at] = type === 'gen_route' ? (params as [string[], Date[]]) : (params.slice(1) as [string[], Date[]]);
      for (const [i, d] of data.entries()) rows[type].push({ data: JSON.parse(d), at: at[i] });
      return { rows: [] };
    },
  };
  return { pool: pool as any, rows };
}

const FROM = new Date('2026-11-28T09:00:00Z');
const TO = new Date('2026-11-28T10:00:00Z');
const half = { fal: 0.5, runware: 0.5 };

async function hour(seed: number, weights = half, fault: Fault | null = null, faultFrom: Date | null = null) {
  const { pool, rows } = recordingPool();
  const result = await new TrafficGenerator(new Random(seed), 4, { from: 'fal', to: 'runware' }).write(
    pool,
    FROM,
    TO,
    weights,
    fault,
    faultFrom,
  );
  return { rows, result };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const of = <R extends { data: any }>(rows: R[], provider: string) => rows.filter((r) => r.data.provider === provider);

describe('the demo traffic generator', () => {
  it('the same seed writes the same rows; another seed other rows', async () => {
    expect((await hour(7)).rows).toEqual((await hour(7)).rows);
    expect((await hour(8)).rows.gen_route.length).not.toBe((await hour(7)).rows.gen_route.length);
  });

  it('routes by the weights, at the rate, inside the interval, with gen_ok per success and a few regenerate vouchers', async () => {
    const { rows, result } = await hour(1);
    expect(result.requests).toBeGreaterThan(4 * 3600 * 0.95);
    expect(result.requests).toBeLessThan(4 * 3600 * 1.05);
    expect(of(rows.gen_route, 'runware').length / result.requests).toBeCloseTo(0.5, 1);
    expect(rows.gen_route.every((r) => r.at > FROM && r.at < TO)).toBe(true);
    expect(rows.gen_ok.length).toBe(rows.gen_route.filter((r) => !r.data.error).length);
    const regenerate = rows.voucher_issued.filter((r) => r.data.reason === 'regenerate').length / rows.gen_ok.length;
    expect(regenerate).toBeGreaterThan(0.005);
    expect(regenerate).toBeLessThan(0.02);
    expect(median(of(rows.gen_route, 'runware').map((r) => r.data.latency_ms))).toBeGreaterThan(2_000);
    expect(median(of(rows.gen_route, 'runware').map((r) => r.data.latency_ms))).toBeLessThan(3_000);
  });

  it('a fault changes Runware only, and only from its start', async () => {
    const slow = await hour(1, half, { kind: 'latency', size: 3 });
    expect(median(of(slow.rows.gen_route, 'runware').map((r) => r.data.latency_ms))).toBeGreaterThan(6_000);
    expect(median(of(slow.rows.gen_route, 'fal').map((r) => r.data.latency_ms))).toBeLessThan(3_500);

    const failing = await hour(1, half, { kind: 'errors', size: 10 });
    expect(
      of(failing.rows.gen_route, 'runware').filter((r) => r.data.error).length / of(failing.rows.gen_route, 'runware').length,
    ).toBeCloseTo(0.1, 1);

    const gone = await hour(1, half, { kind: 'no-traffic', size: 100 });
    expect(of(gone.rows.gen_route, 'runware')).toEqual([]);
    expect(gone.result.requests).toBe(gone.rows.gen_route.length);

    const midway = new Date('2026-11-28T09:30:00Z');
    const later = await hour(1, half, { kind: 'cost', size: 2 }, midway);
    const costs = (before: boolean) =>
      of(later.rows.gen_route, 'runware')
        .filter((r) => r.at < midway === before && r.data.cost_per_image)
        .map((r) => r.data.cost_per_image);
    expect(median(costs(true))).toBeCloseTo(0.036, 2);
    expect(median(costs(false))).toBeCloseTo(0.072, 2);
  });
});
