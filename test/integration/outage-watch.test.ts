import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OutageWatch } from '../../src/engine/outage-watch.ts';
import type { EventSink, PeerLink } from '../../src/engine/ports.ts';
import { silentLogger } from '../../src/log.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { SECOND, TestClock } from '../support/clock.ts';

// Three replicas' watches on one database, asking each other through a fake peer link and telling
// one channel, on a fake clock: the announce/back rules end to end, without processes or sleeps.
const EVERY = 30 * SECOND;
const lost = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

function replicas(ids: string[], leader: string) {
  const clock = new TestClock();
  const notices: string[] = [];
  const sink: EventSink = { deliver: async () => {}, notice: async (t) => void notices.push(`${t}`) };
  /** Which replicas reach the database, and which answer their peers at all. */
  const reaches = new Set(ids);
  const alive = new Set(ids);
  const watches = new Map<string, OutageWatch>();
  const peers: PeerLink = {
    async ask(url) {
      const id = url.replace('http://', '');
      return alive.has(id) ? watches.get(id)!.health(reaches.has(id)) : null;
    },
  };
  for (const id of ids)
    watches.set(
      id,
      new OutageWatch({
        replica: { id, url: `http://${id}`, startedAt: clock.now() },
        db,
        evaluateEveryMs: EVERY,
        now: clock.now,
        sink,
        peers,
        leading: () => id === leader,
        log: silentLogger,
      }),
    );
  const each = async (fn: (w: OutageWatch, id: string) => unknown) => {
    for (const id of ids) if (alive.has(id)) await fn(watches.get(id)!, id);
  };
  /** Every replica registered and, an evaluation later, has read who the others are. */
  const registered = async () => {
    await each((w) => w.reached());
    clock.advance(EVERY);
    await each((w) => w.reached());
  };
  return { clock, notices, reaches, alive, watches, each, registered };
}

const backs = async () =>
  (await db.app.query(`SELECT payload FROM rollout.outbox WHERE kind = 'database_back' ORDER BY id`)).rows.map((r) => r.payload);

describe('outage watch: three replicas, one channel', () => {
  it('a shared outage: one "unavailable" (from the leader) however many rounds, one "back" with its length though the leader died meanwhile', async () => {
    const r = replicas(['a', 'b', 'c'], 'b');
    await r.registered();
    const outageAt = r.clock.now();
    r.reaches.clear();
    await r.each((w) => w.lost('guard', lost));
    for (let i = 0; i < 5; i++) {
      r.clock.advance(SECOND * 10);
      await r.each((w) => w.round());
    }
    expect(r.notices).toHaveLength(1);
    expect(r.notices[0]).toMatch(/^Database unavailable \(read ECONNRESET \(ECONNRESET\)\)\. The guard is paused/);
    for (const id of ['a', 'b', 'c'])
      expect(r.watches.get(id)!.health(false).announced, id).toEqual({ by: 'b', since: outageAt.toISOString() });
    // The others learned it was announced from the leader's answer; then the leader dies.
    r.alive.delete('b');
    r.clock.advance(60 * SECOND);
    for (const id of ['a', 'c']) r.reaches.add(id);
    await r.each((w) => w.reached());
    await r.each((w) => w.reached());
    expect(r.notices).toHaveLength(1);
    expect(await backs()).toEqual([
      { kind: 'database_back', since: outageAt.toISOString(), at: r.clock.now().toISOString(), outageMs: 110 * SECOND },
    ]);
  });

  it('a replica still down from the last outage when the next begins: the next is announced too, once, and has its own "back"', async () => {
    const r = replicas(['a', 'b', 'c'], 'a');
    await r.registered();
    r.reaches.clear();
    await r.each((w) => w.lost('guard', lost));
    // Short enough that a is still among b's and c's live peers when the next outage begins.
    r.clock.advance(EVERY);
    await r.each((w) => w.round());
    expect(r.notices).toHaveLength(1);
    // Back for b and c (b records the "back"); a never reaches the database before it goes again.
    r.reaches.add('b');
    r.reaches.add('c');
    r.clock.advance(SECOND);
    await r.each((w, id) => id !== 'a' && w.reached());
    expect(await backs()).toHaveLength(1);
    r.clock.advance(SECOND);
    r.reaches.clear();
    await r.each((w, id) => id !== 'a' && w.lost('guard', lost));
    for (let i = 0; i < 6; i++) {
      r.clock.advance(EVERY);
      await r.each((w) => w.round());
    }
    expect(r.notices).toHaveLength(2);
    expect(r.notices[1]).toMatch(/^Database unavailable/);
    for (const id of ['a', 'b', 'c']) r.reaches.add(id);
    r.clock.advance(SECOND);
    await r.each((w) => w.reached());
    await r.each((w) => w.reached());
    expect(r.notices).toHaveLength(2);
    expect(await backs()).toHaveLength(2);
  });

  it('a blip shorter than one evaluateEvery: nothing said either way', async () => {
    const r = replicas(['a', 'b', 'c'], 'a');
    await r.registered();
    r.reaches.clear();
    await r.each((w) => w.lost('guard', lost));
    r.clock.advance(EVERY - SECOND);
    await r.each((w) => w.round());
    for (const id of ['a', 'b', 'c']) r.reaches.add(id);
    await r.each((w) => w.reached());
    expect(r.notices).toEqual([]);
    expect(await backs()).toEqual([]);
  });

  it('one replica’s own path (the leader’s): logged, on its /healthz, never announced; nothing to say when it is back', async () => {
    const r = replicas(['a', 'b', 'c'], 'a');
    await r.registered();
    r.reaches.delete('a');
    const a = r.watches.get('a')!;
    a.lost('guard', lost);
    for (let i = 0; i < 10; i++) {
      r.clock.advance(EVERY);
      await a.round();
    }
    expect(r.notices).toEqual([]);
    expect(a.health(false)).toMatchObject({ database: 'down', wasLeader: true, announced: null, reason: 'read ECONNRESET (ECONNRESET)' });
    r.reaches.add('a');
    await a.reached();
    expect(a.health(true)).toMatchObject({ database: 'up', downSince: null, reason: null });
    expect(await backs()).toEqual([]);
  });

  it('the last leader dead before the outage is announced: the lowest id that answers speaks, once, an evaluateEvery later than the leader would', async () => {
    const r = replicas(['a', 'b', 'c'], 'c');
    await r.registered();
    r.alive.delete('c');
    r.reaches.clear();
    await r.each((w) => w.lost('guard', lost));
    r.clock.advance(EVERY);
    await r.each((w) => w.round());
    expect(r.notices).toEqual([]);
    r.clock.advance(EVERY);
    await r.each((w) => w.round());
    await r.each((w) => w.round());
    expect(r.notices).toHaveLength(1);
    expect(r.watches.get('a')!.health(false).announced).toMatchObject({ by: 'a' });
    expect(r.watches.get('b')!.health(false).announced).toMatchObject({ by: 'a' });
  });
});
