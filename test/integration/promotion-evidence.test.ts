import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { alice, bob, engine, flagRow, planWith, soakHealthy } from '../support/engine.ts';
import { HOUR, MINUTE, SECOND } from '../support/clock.ts';
import { feed } from '../support/traffic.ts';
import { guardCycle } from '../../src/engine/guard.ts';
import type { Outcome } from '../../src/core/outcomes.ts';

// The runbook promotes only "if all are fine": on an evaluation someone made recently, with every
// red line judged ok. --force is the audited way past; complete waits while a red line breaches.
let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

const message = (o: Outcome) => (o as { message: string }).message;

describe('promotion needs fresh, complete evidence', () => {
  it('refuses while nobody is watching (the last evaluation is older than 2 × evaluateEvery), forced only with --force', async () => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 0 }) });
    await service.handle('d1', alice);
    await soakHealthy(db, service, clock, HOUR);
    clock.advance(2 * MINUTE);
    const r = (await service.handle('d2', alice)).outcome;
    expect(r).toMatchObject({ kind: 'refused', code: 'unwatched' });
    expect(message(r)).toContain('Nobody is watching: the guard last evaluated 2m ago');
    expect((await flagRow(db)).description).toContain('(D1)');
    expect((await service.handle('d2 --force', alice)).outcome).toMatchObject({ kind: 'stage_started', forced: true });
    const { rows } = await db.app.query(
      `SELECT outcome, detail->>'code' AS code, coalesce(detail->>'forced', detail->>'force') AS forced FROM rollout.audit WHERE action = 'request d2' OR detail->>'to' = 'd2' ORDER BY id`,
    );
    expect(rows).toEqual([
      { outcome: 'refused', code: 'unwatched', forced: 'false' },
      { outcome: 'done', code: null, forced: 'true' },
    ]);
  });

  it('the last approval checks again: an evaluation gone stale while the request waited blocks it', async () => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 1 }) });
    await service.handle('d1', alice);
    await service.handle('approve', bob);
    await soakHealthy(db, service, clock, HOUR);
    expect((await service.handle('d2', alice)).outcome.kind).toBe('requested');
    clock.advance(5 * MINUTE);
    const r = (await service.handle('approve', bob)).outcome;
    expect(r).toMatchObject({ kind: 'refused', code: 'unwatched' });
    expect(message(r)).toContain('last evaluated 5m ago');
  });

  it('a cost red line with no baseline blocks promotion, and says what to do', async () => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 0 }) });
    await service.handle('d1', alice);
    const start = clock.now();
    // Runware traffic only: FAL logs no cost anywhere, so no baseline can be measured.
    await feed(db.app, new Date(start.getTime() + HOUR - 10 * MINUTE), clock.advance(HOUR), { perMinute: 60 });
    await guardCycle(service);
    const r = (await service.handle('d2', alice)).outcome;
    expect(r).toMatchObject({ kind: 'refused', code: 'no_evidence' });
    expect(message(r)).toContain('cost per image is no data');
    expect(message(r)).toContain('set baselineCostPerImage in the plan, or wait for FAL traffic to measure the baseline');
    expect(message(r)).not.toContain('p95 latency is');
  });

  it('a voucher red line with too few gen_ok rows blocks promotion', async () => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 0, baselineCostPerImage: 0.005 }) });
    await service.handle('d1', alice);
    await soakHealthy(db, service, clock, HOUR);
    await db.app.query(`DELETE FROM analytics_logs WHERE event_type = 'gen_ok'`);
    // A new process (a restart, or another replica leading) reads the 1 h windows whole.
    const restarted = engine(db, { plan: service.plan, clock }).service;
    await guardCycle(restarted);
    const r = (await restarted.handle('d2', alice)).outcome;
    expect(r).toMatchObject({ kind: 'refused', code: 'no_evidence' });
    expect(message(r)).toMatch(
      /regenerate-voucher rate is no data \(0 samples in the window, fewer than minSamples 50\): wait for 50 samples in 1h/,
    );
  });

  it('complete is refused while a red line is in breach', async () => {
    const { service, clock } = engine(db, { plan: planWith({ approvals: 0, baselineCostPerImage: 0.005 }) });
    await service.handle('d1', alice);
    await soakHealthy(db, service, clock, HOUR);
    await service.handle('d2', alice);
    await soakHealthy(db, service, clock, 3 * HOUR);
    expect((await service.handle('d3', alice)).outcome.kind).toBe('stage_started');
    const from = clock.now();
    await feed(db.app, from, clock.advance(30 * SECOND), { perMinute: 120, failureShare: 0.5 });
    await guardCycle(service);
    const r = (await service.handle('complete', bob)).outcome;
    expect(r).toMatchObject({ kind: 'refused', code: 'breaching' });
    expect(message(r)).toContain('failure rate (');
    expect(message(r)).toContain('the runbook watches D3 until it is clean');
  });
});
