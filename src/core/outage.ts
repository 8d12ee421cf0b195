/*
 * Who tells the channel that the shared database is gone, and when: the rules every replica
 * applies to what it sees and what its live peers answer (GET /healthz). Pure: the engine's
 * OutageWatch feeds it, a fake clock tests it.
 *
 * A replica that loses the database cannot ask the database who else lost it, so it asks its
 * peers. A peer that reaches the database proves the fault is on this replica's own path: that is
 * logged, counted and shown on this replica's /healthz, never announced. When no live peer reaches
 * it, the outage is shared and exactly one replica speaks: the one that led the guard when the
 * database went, if it is alive, else the lowest replica id among those that answer. The last
 * leader speaks after one grace; any other speaker waits two, so a leader that is alive but slow
 * to answer (a loaded host, a black-holed probe) is heard announcing before anyone else would.
 */

/** The announced outage, named by who announced it and when it lost the database. */
export interface OutageKey {
  by: string;
  since: string;
}

/** One replica's view of the shared database, as it answers its peers. */
export interface ReplicaAnswer {
  id: string;
  /** Whether it reaches the database right now. */
  database: 'up' | 'down';
  /** When it lost the database (ISO), while it has not reached it since. */
  downSince: string | null;
  /** It led the guard when it lost the database. */
  wasLeader: boolean;
  /** An outage it knows was announced (by itself or a peer) whose "back" it has not yet seen recorded. */
  announced: OutageKey | null;
  /**
   * The last announced outage it has seen end (it reached the database after it). A replica that
   * could not reach the database between two outages still holds the first one's key; this is how
   * it and the others learn that key belongs to an outage already over, not to this one.
   */
  ended: OutageKey | null;
}

export type OutageDecision =
  /** A peer reaches the database: the fault is this replica's own path. */
  | { kind: 'own_path'; peer: string }
  /** Already announced (by this replica or a peer): nothing more to say until it is back. */
  | { kind: 'announced'; key: OutageKey }
  /** Too short so far to be news, or another replica speaks. */
  | { kind: 'wait'; speaker: string | null }
  | { kind: 'announce'; key: OutageKey };

/**
 * How long the shared database must be gone before it is announced: one evaluateEvery. The
 * notice says the guard is paused, which is news only once an evaluation could not run; a blip
 * shorter than that delays at most one evaluation (the next one finds the database back), so it
 * is logged and counted but never posted.
 */
export const outageGraceMs = (evaluateEveryMs: number): number => evaluateEveryMs;

/** The one replica that speaks for those that see the outage: the last leader if it is among them, else the lowest id. */
export function speakerOf(seeing: Pick<ReplicaAnswer, 'id' | 'wasLeader'>[]): string | null {
  const byId = [...seeing].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return (byId.find((r) => r.wasLeader) ?? byId[0])?.id ?? null;
}

const sameKey = (a: OutageKey, b: OutageKey): boolean => a.by === b.by && a.since === b.since;

/** Whether any of these replicas (this one and the peers that answered) has seen the outage `key` end. */
export function outageOver(key: OutageKey, seen: Pick<ReplicaAnswer, 'ended'>[]): boolean {
  return seen.some((r) => r.ended !== null && sameKey(r.ended, key));
}

/**
 * What this replica, down since `self.downSince`, does now, given the answers of the peers that
 * answered (a peer that did not answer is dead or unreachable: it neither speaks nor vetoes).
 */
export function decideOutage(self: ReplicaAnswer, answers: ReplicaAnswer[], nowMs: number, graceMs: number): OutageDecision {
  const peers = answers.filter((a) => a.id !== self.id);
  // An announcement whose end some replica saw is the last outage's, not this one's: it neither
  // stands for this outage nor silences it.
  const current = (key: OutageKey | null): key is OutageKey => key !== null && !outageOver(key, [self, ...peers]);
  const reaching = peers.find((p) => p.database === 'up');
  // Its own announced outage: while a peer reaches the database this replica is only late coming
  // back from it (nothing to say; its end is recorded when this one reaches the database too).
  if (self.announced && (reaching || current(self.announced))) return { kind: 'announced', key: self.announced };
  if (reaching) return { kind: 'own_path', peer: reaching.id };
  const told = peers.find((p) => current(p.announced))?.announced;
  if (told) return { kind: 'announced', key: told };
  const since = self.downSince ? Date.parse(self.downSince) : nowMs;
  if (nowMs - since < graceMs) return { kind: 'wait', speaker: null };
  const speaker = speakerOf([self, ...peers]);
  if (speaker !== self.id) return { kind: 'wait', speaker };
  if (!self.wasLeader && nowMs - since < 2 * graceMs) return { kind: 'wait', speaker: null };
  return { kind: 'announce', key: { by: self.id, since: self.downSince ?? new Date(nowMs).toISOString() } };
}

/** A peer's /healthz body read defensively: its `replica` field, or null when it is not one. */
export function readReplicaAnswer(body: unknown): ReplicaAnswer | null {
  const r = (body as { replica?: unknown } | null)?.replica as Record<string, unknown> | undefined;
  if (!r || typeof r !== 'object' || typeof r.id !== 'string' || (r.database !== 'up' && r.database !== 'down')) return null;
  const keyOf = (v: unknown): OutageKey | null => {
    const key = v as Record<string, unknown> | null | undefined;
    return key && typeof key.by === 'string' && typeof key.since === 'string' ? { by: key.by, since: key.since } : null;
  };
  return {
    id: r.id,
    database: r.database,
    downSince: typeof r.downSince === 'string' ? r.downSince : null,
    wasLeader: r.wasLeader === true,
    announced: keyOf(r.announced),
    ended: keyOf(r.ended),
  };
}
