import { describe, expect, it } from 'vitest';
import { decideOutage, outageGraceMs, outageOver, readReplicaAnswer, speakerOf, type ReplicaAnswer } from '../../src/core/outage.ts';
import { isUnavailable } from '../../src/engine/errors.ts';
import { SECOND, TestClock } from '../support/clock.ts';

// The rules every replica applies when it loses the database (src/core/outage.ts), on a fake clock.
const EVERY = 30 * SECOND;
const GRACE = outageGraceMs(EVERY);

const down = (id: string, since: Date | null, more: Partial<ReplicaAnswer> = {}): ReplicaAnswer => ({
  id,
  database: 'down',
  downSince: since?.toISOString() ?? null,
  wasLeader: false,
  announced: null,
  ended: null,
  ...more,
});
const up = (id: string): ReplicaAnswer => ({ id, database: 'up', downSince: null, wasLeader: false, announced: null, ended: null });

describe('one voice when the database goes away', () => {
  it('a blip shorter than one evaluateEvery announces nothing; a longer outage is announced by a sole leader, keyed by when it began', () => {
    const clock = new TestClock();
    const since = clock.now();
    const self = down('a', since, { wasLeader: true });
    clock.advance(GRACE - SECOND);
    expect(decideOutage(self, [], clock.now().getTime(), GRACE)).toEqual({ kind: 'wait', speaker: null });
    clock.advance(SECOND);
    expect(decideOutage(self, [], clock.now().getTime(), GRACE)).toEqual({
      kind: 'announce',
      key: { by: 'a', since: since.toISOString() },
    });
  });

  it('a peer that reaches the database makes it this replica’s own path: never announced, however long', () => {
    const clock = new TestClock();
    const self = down('a', clock.now(), { wasLeader: true });
    clock.advance(10 * GRACE);
    expect(decideOutage(self, [up('b'), down('c', clock.now())], clock.now().getTime(), GRACE)).toEqual({ kind: 'own_path', peer: 'b' });
  });

  it('three replicas that all lost it: only the last leader speaks; the others learn it was announced from its answer', () => {
    const clock = new TestClock();
    const since = clock.now();
    const a = down('a', since);
    const b = down('b', new Date(since.getTime() + 2 * SECOND), { wasLeader: true });
    const c = down('c', since);
    clock.advance(GRACE + 3 * SECOND);
    const now = clock.now().getTime();
    const decisions = [a, b, c].map((self) => decideOutage(self, [a, b, c], now, GRACE));
    expect(decisions.map((d) => d.kind)).toEqual(['wait', 'announce', 'wait']);
    expect(decisions[0]).toEqual({ kind: 'wait', speaker: 'b' });
    const key = { by: 'b', since: b.downSince! };
    const told = { ...b, announced: key };
    expect(decideOutage(a, [told, c], now, GRACE)).toEqual({ kind: 'announced', key });
    expect(decideOutage(c, [a, told], now, GRACE)).toEqual({ kind: 'announced', key });
    // And the announcer itself stays announced until "back" is recorded.
    expect(decideOutage(told, [a, c], now + GRACE, GRACE)).toEqual({ kind: 'announced', key });
  });

  it('the last leader dead (it does not answer): the lowest id among those that answer speaks, once, after two evaluateEvery', () => {
    const clock = new TestClock();
    const since = clock.now();
    clock.advance(GRACE);
    const b = down('b', since);
    const c = down('c', since);
    // A leader that is alive but slow to answer has one more grace to be heard announcing.
    expect(decideOutage(b, [c], clock.now().getTime(), GRACE)).toEqual({ kind: 'wait', speaker: null });
    clock.advance(GRACE);
    const now = clock.now().getTime();
    expect(decideOutage(b, [c], now, GRACE).kind).toBe('announce');
    expect(decideOutage(c, [b], now, GRACE)).toEqual({ kind: 'wait', speaker: 'b' });
    expect(speakerOf([c, b])).toBe('b');
    expect(speakerOf([])).toBeNull();
  });

  it('each replica waits out the grace from its own loss: one that lost it later does not speak early', () => {
    const clock = new TestClock();
    const a = down('a', clock.now(), { wasLeader: true });
    clock.advance(GRACE - 5 * SECOND);
    const b = down('b', clock.now());
    clock.advance(6 * SECOND);
    const now = clock.now().getTime();
    expect(decideOutage(a, [b], now, GRACE).kind).toBe('announce');
    expect(decideOutage(b, [a], now, GRACE)).toEqual({ kind: 'wait', speaker: null });
  });

  it('an announcement some replica saw end is the last outage’s: it neither stands for the next outage nor silences it', () => {
    const clock = new TestClock();
    const last = { by: 'c', since: clock.now().toISOString() };
    clock.advance(3 * GRACE);
    // b and c came back after the last outage (b saw its end); a never reached the database between the two.
    const b = down('b', clock.now(), { wasLeader: true, ended: last });
    const stale = down('a', new Date(Date.parse(last.since)), { announced: last });
    clock.advance(GRACE);
    const now = clock.now().getTime();
    expect(outageOver(last, [stale, b])).toBe(true);
    expect(decideOutage(b, [stale], now, GRACE)).toEqual({ kind: 'announce', key: { by: 'b', since: b.downSince } });
    // Without a replica that saw its end, a peer's announcement still stands for the outage.
    expect(decideOutage({ ...b, ended: null }, [stale], now, GRACE)).toEqual({ kind: 'announced', key: last });
    // The stale replica itself, told by b, does not take its old key as this outage's announcement.
    expect(decideOutage(stale, [b], now, GRACE)).toEqual({ kind: 'wait', speaker: 'b' });
    // While a peer reaches the database, the stale replica is only late back: it keeps quiet, no "own path".
    expect(decideOutage(stale, [{ ...up('b'), ended: last }], now, GRACE)).toEqual({ kind: 'announced', key: last });
  });

  it('reads a peer’s /healthz defensively: anything but a replica’s answer counts as no answer', () => {
    const answer = {
      id: 'a',
      database: 'down',
      downSince: '2026-12-07T05:00:00.000Z',
      wasLeader: true,
      announced: { by: 'a', since: 'x' },
      ended: { by: 'b', since: 'w' },
    };
    expect(readReplicaAnswer({ ok: false, replica: answer })).toEqual(answer);
    expect(readReplicaAnswer({ ok: true, replica: { ...answer, announced: 'yes', wasLeader: 'true', ended: { by: 1 } } })).toEqual({
      ...answer,
      announced: null,
      wasLeader: false,
      ended: null,
    });
    for (const body of [
      null,
      'up',
      {},
      { replica: null },
      { replica: { id: 1, database: 'up' } },
      { replica: { id: 'a', database: 'maybe' } },
    ])
      expect(readReplicaAnswer(body)).toBeNull();
  });
});

describe('what counts as the database being unavailable', () => {
  it('silence counts like a refusal: read, statement and connection timeouts; a bug or bad data does not', () => {
    const unavailable = [
      new Error('Query read timeout'),
      new Error('timeout expired'),
      new Error('Connection terminated due to connection timeout'),
      new Error('timeout exceeded when trying to connect'),
      Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }),
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
    ];
    for (const err of unavailable) expect(isUnavailable(err), err.message).toBe(true);
    for (const err of [new Error('relation "x" does not exist'), Object.assign(new Error('permission denied'), { code: '42501' }), null])
      expect(isUnavailable(err)).toBe(false);
  });
});
