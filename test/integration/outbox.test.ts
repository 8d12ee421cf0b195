import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RolloutEvent } from '../../src/core/events.ts';
import { deliverOutbox } from '../../src/engine/outbox.ts';
import { DeliveryError, type EventSink } from '../../src/engine/ports.ts';
import { reportCycle } from '../../src/engine/reporter.ts';
import { Scheduler } from '../../src/engine/scheduler.ts';
import { soleLeader } from '../../src/engine/leader.ts';
import { consoleSink, startConsole } from '../../src/adapters/console.ts';
import { silentLogger } from '../../src/log.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { alice, bob, engine, planWith } from '../support/engine.ts';
import { MINUTE, SECOND } from '../support/clock.ts';
import { feed } from '../support/traffic.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

/** A front end that can be told to fail, recording what it was given. */
function flakySink() {
  const seen: { id: number; kind: string }[] = [];
  let failures: (DeliveryError | Error)[] = [];
  const sink: EventSink = {
    async deliver(event: RolloutEvent, meta) {
      const f = failures.shift();
      if (f) throw f;
      seen.push({ id: meta.id, kind: event.kind });
    },
    async notice() {},
  };
  return { sink, seen, failWith: (...errs: (DeliveryError | Error)[]) => (failures = errs) };
}

describe('the outbox', () => {
  it('delivers in order, stops at a failure, honours Retry-After, and never delivers twice', async () => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 0 }) });
    await service.handle('d1', alice);
    await service.handle('rollback first', bob);
    await service.handle('d1', alice);
    const { sink, seen, failWith } = flakySink();

    failWith(new DeliveryError('slack said 429', 30_000));
    expect(await deliverOutbox(db.pool, sink, clock.now)).toMatchObject({ delivered: 0, blocked: { id: 1, error: 'slack said 429' } });
    clock.advance(29 * SECOND);
    expect(await deliverOutbox(db.pool, sink, clock.now)).toMatchObject({ delivered: 0, blocked: { id: 1, error: 'waiting to retry' } });
    clock.advance(1 * SECOND);
    failWith(new Error('socket hang up'));
    expect((await deliverOutbox(db.pool, sink, clock.now)).blocked).toMatchObject({ id: 1, error: 'socket hang up' });
    clock.advance(MINUTE);
    expect(await deliverOutbox(db.pool, sink, clock.now)).toEqual({ delivered: 3, blocked: null });
    expect(await deliverOutbox(db.pool, sink, clock.now)).toEqual({ delivered: 0, blocked: null });
    expect(seen).toEqual([
      { id: 1, kind: 'stage_started' },
      { id: 2, kind: 'manual_rollback' },
      { id: 3, kind: 'stage_started' },
    ]);
    const { rows } = await db.app.query('SELECT attempts FROM rollout.outbox ORDER BY id');
    expect(rows.map((r) => r.attempts)).toEqual([3, 1, 1]);
  });
});

describe('reports', () => {
  it('each report carries the previous one, so it can say what changed', async () => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 0, minSamples: 20, baselineCostPerImage: 0.005 }) });
    expect(await reportCycle(service)).toBeNull();
    await service.handle('d1', alice);
    await feed(
      db.app,
      new Date(clock.now().getTime() - 10 * MINUTE),
      clock.now(),
      { perMinute: 60, latencyMs: 2000, cost: 0.005 },
      { perMinute: 500 },
    );
    await reportCycle(service);
    const t1 = clock.now();
    clock.advance(15 * MINUTE);
    await feed(db.app, t1, clock.now(), { perMinute: 60, latencyMs: 3000, cost: 0.006 }, { perMinute: 500 });
    await reportCycle(service);
    const { rows } = await db.app.query(`SELECT payload FROM rollout.outbox WHERE kind = 'report' ORDER BY id`);
    expect(rows).toHaveLength(2);
    expect(rows[0].payload.previous).toBeNull();
    const second = rows[1].payload;
    expect(second.previous.at).toBe(t1.toISOString());
    const p95 = (r: { lines: { name: string; value: number }[] }) => r.lines.find((l) => l.name === 'p95LatencyMs')!.value;
    expect([p95(second.previous), p95(second.current)]).toEqual([2000, 3000]);
    expect(second.current.split.shares.runware).toBeCloseTo(60 / 560, 2);
  });
});

describe('the console front end', () => {
  it('acts as the local user, "as" acts as another, events print, and end of input keeps the bot up', async () => {
    const { service } = engine(db, { admins: [] });
    const input = new PassThrough();
    const output = new PassThrough();
    let printed = '';
    output.on('data', (d) => (printed += d));
    const scheduler = new Scheduler({ service, sink: consoleSink(() => service.plan, output), leader: soleLeader(), log: silentLogger });
    await scheduler.tick();
    const { done } = startConsole({
      service,
      input,
      output,
      localUser: 'dana',
      origin: { osUser: 'dana', host: 'test-host' },
      afterCommand: () => scheduler.flush(),
    });
    input.end('d1\napprove\nas erin approve\nstatus\n');
    await done;
    expect(printed).toContain('Requested d1 (request #1)');
    expect(printed).toContain('Refused: You requested d1; another admin must approve it (two-person rule).');
    expect(printed).toContain('d1 started: FAL 90% / Runware 10%, approved by erin.');
    expect(printed).toContain('[stage] d1 started at');
    expect(printed).toContain('Stage: d1 since');
    expect(printed).toContain('Console input ended; the bot keeps running');
    expect(scheduler.isLeader).toBe(true);
    await scheduler.stop();
  });
});
