import { describe, expect, it, type TestContext } from 'vitest';
import { openDatabase } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { advisoryLeader } from '../../src/engine/leader.ts';
import { DeliveryError, type EventSink } from '../../src/engine/ports.ts';
import { Scheduler } from '../../src/engine/scheduler.ts';
import { silentLogger, stderrLogger } from '../../src/log.ts';
import { alice, engine, planWith } from '../support/engine.ts';
import { MINUTE, SECOND, TestClock } from '../support/clock.ts';
import { tcpProxy } from '../support/tcp-proxy.ts';
import { feed, type Health } from '../support/traffic.ts';
import { cleanupOf, one, scratchDatabase } from './harness.ts';

const FAILING: Health = { perMinute: 120, failureShare: 1 };
const HEALTHY: Health = { perMinute: 120 };

/**
 * The bot on a database reached through a proxy the test can cut; the app writes directly. The
 * bot's URL carries short timeouts (the server cancels a statement after 1 s, the client gives up
 * on an answer after 2 s), so a black-holed database is found in seconds, not the production 15 s.
 * Each test has its own. One at a time: each step's statements must finish within those 1-2 s,
 * which four tests computing at once on a loaded machine have failed to do.
 */
async function setup(ctx: TestContext) {
  const cleanup = cleanupOf(ctx);
  const scratch = await scratchDatabase();
  cleanup(() => scratch.close());
  const proxy = await tcpProxy({ host: '127.0.0.1', port: Number(new URL(scratch.url).port || 5432) });
  cleanup(() => proxy.close());
  const url = `${proxy.url(scratch.url)}?statement_timeout=1000&query_timeout=2000`;
  const db = await openDatabase({ databaseUrl: url });
  cleanup(() => db.close());
  await migrate(db.pool, { createAnalyticsIndex: true });
  const clock = new TestClock();
  const { service } = engine(db, { plan: planWith({ approvals: 0, minSamples: 20, baselineCostPerImage: 0.005 }), clock });
  const notices: string[] = [];
  const events: string[] = [];
  // The front end's side of the border: while it is "down" it answers like a rate-limited Slack.
  const frontEnd = { up: true };
  const sink: EventSink = {
    async deliver(e) {
      if (!frontEnd.up) throw new DeliveryError('HTTP 429 rate limited', 30_000);
      events.push(e.kind);
    },
    notice: async (t) => void notices.push(t),
  };
  const scheduler = new Scheduler({
    service,
    sink,
    leader: advisoryLeader(url),
    log: process.env.DEBUG_OUTAGES ? stderrLogger('info', 'text') : silentLogger,
  });
  cleanup(() => scheduler.stop());
  /** One evaluateEvery of app traffic and one guard tick (as the cron would). */
  const step = async (health: Health) => {
    const from = clock.now();
    await feed(scratch.pool, from, clock.advance(30 * SECOND), health);
    const r = await scheduler.tick();
    await scheduler.flush();
    return r?.kind ?? 'no evaluation';
  };
  return { scratch, proxy, service, scheduler, clock, notices, events, frontEnd, step };
}

/** The one "back" recorded for the outage, with its length (the test clock's). */
const backMessage = async (pool: import('pg').Pool) => {
  const { rows } = await pool.query(`SELECT payload FROM rollout.outbox WHERE kind = 'database_back'`);
  expect(rows).toHaveLength(1);
  return { outageMs: rows[0].payload.outageMs };
};

const state = (pool: import('pg').Pool) => one<{ state: string }>(pool, 'SELECT state FROM rollout.runs ORDER BY id DESC LIMIT 1');

describe('Postgres down for 2 minutes', () => {
  it('stays up, says so once, answers "database unavailable", and acts on a breach that held through the gap as soon as it is back', async (ctx) => {
    const { expect } = ctx;
    const { scratch, proxy, service, notices, events, step } = await setup(ctx);
    await service.handle('d1', alice);
    for (let i = 0; i < 8; i++) await step(FAILING); // in breach since the first step: 3.5 min held
    proxy.down();
    const during: string[] = [];
    for (let i = 0; i < 4; i++) during.push(await step(FAILING)); // 2 minutes without a database
    expect(during).toEqual(Array(4).fill('no evaluation'));
    const reply = await service.handle('status', alice);
    expect(reply.outcome).toMatchObject({
      kind: 'unavailable',
      message: expect.stringMatching(/^The database is unavailable .* Nothing was changed/),
    });
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/^Database unavailable/);
    expect((await state(scratch.pool))!.state).toBe('d1');

    proxy.up();
    // The rollback fell due during the outage (5 min after the first breach); it happens at the first evaluation back.
    expect(await step(FAILING)).toBe('rolled_back');
    expect(notices).toHaveLength(1);
    expect(events.filter((e) => e === 'database_back')).toHaveLength(1);
    expect(await backMessage(scratch.pool)).toEqual({ outageMs: 2 * MINUTE });
    expect((await state(scratch.pool))!.state).toBe('rolled_back');
  });

  it('a silent database (black-holed: connections accepted, nothing answered) is an outage too: clock held, no rollback from the gap, the owed one at the first evaluation back, one notice each way', async (ctx) => {
    const { expect } = ctx;
    const { scratch, proxy, service, notices, events, step } = await setup(ctx);
    await service.handle('d1', alice);
    for (let i = 0; i < 8; i++) await step(FAILING);
    proxy.stall();
    const during: string[] = [];
    for (let i = 0; i < 3; i++) during.push(await step(FAILING)); // statement and read timeouts, then connect timeouts
    expect(during).toEqual(Array(3).fill('no evaluation'));
    expect((await state(scratch.pool))!.state).toBe('d1');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(
      /^Database unavailable \((Query read timeout|timeout expired|timeout exceeded when trying to connect|Connection terminated)/,
    );
    proxy.up();
    expect(await step(FAILING)).toBe('rolled_back');
    expect(notices).toHaveLength(1);
    expect(events.filter((e) => e === 'database_back')).toHaveLength(1);
  });

  it('makes no false rollback from the gap when the candidate recovered meanwhile', async (ctx) => {
    const { expect } = ctx;
    const { scratch, proxy, service, notices, step } = await setup(ctx);
    await service.handle('d1', alice);
    for (let i = 0; i < 4; i++) await step(FAILING);
    proxy.down();
    for (let i = 0; i < 16; i++) await step(HEALTHY); // 8 minutes: longer than `for`, but no longer failing
    proxy.up();
    expect(await step(HEALTHY)).toBe('evaluated');
    for (let i = 0; i < 12; i++) expect(await step(HEALTHY)).toBe('evaluated');
    expect((await state(scratch.pool))!.state).toBe('d1');
    expect(notices.map((n) => n.slice(0, 20))).toEqual(['Database unavailable']);
    expect(await backMessage(scratch.pool)).toEqual({ outageMs: 8 * MINUTE });
  });
});

describe('Slack (or any front end) down or rate-limited for 10 minutes', () => {
  it('the rollback still happens on time; alerts wait in the outbox and arrive in order afterwards', async (ctx) => {
    const { expect } = ctx;
    const { scratch, service, scheduler, clock, events: delivered, frontEnd, step } = await setup(ctx);
    frontEnd.up = false;
    await service.handle('d1', alice);
    const kinds: string[] = [];
    for (let i = 0; i < 20; i++) kinds.push(await step(FAILING));
    expect(kinds.indexOf('rolled_back')).toBe(10); // first breach at step 0, `for` 5 min → step 10
    expect((await state(scratch.pool))!.state).toBe('rolled_back');
    expect(delivered).toEqual([]);
    frontEnd.up = true;
    clock.advance(MINUTE);
    await scheduler.tick();
    await scheduler.flush();
    expect(delivered).toEqual(['stage_started', 'breach_started', 'auto_rollback']);
    const { rows } = await scratch.pool.query('SELECT count(*)::int AS n FROM rollout.outbox WHERE delivered_at IS NULL');
    expect(rows[0].n).toBe(0);
  });
});
