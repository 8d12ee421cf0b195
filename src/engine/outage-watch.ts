import { decideOutage, outageGraceMs, outageOver, type OutageKey, type ReplicaAnswer } from '../core/outage.ts';
import type { Database } from '../db/database.ts';
import { liveReplicas, recordOutageBack, removeReplica, touchReplica, type ReplicaRow } from '../db/replicas.ts';
import type { Logger } from '../log.ts';
import { describeError } from './errors.ts';
import type { EventSink, PeerLink } from './ports.ts';

/** Who this replica is to its peers. */
export interface ReplicaIdentity {
  id: string;
  /** Where its GET /healthz answers other replicas (ROLLOUT_ADVERTISE_URL); null: it serves none. */
  url: string | null;
  startedAt: Date;
}

export interface OutageWatchDeps {
  replica: ReplicaIdentity;
  db: Database;
  evaluateEveryMs: number;
  now: () => Date;
  sink: EventSink;
  /** The other replicas over HTTP; null: this replica asks nobody (a sole replica, PGlite). */
  peers: PeerLink | null;
  /** Whether this replica leads the guard right now (the scheduler's flag). */
  leading: () => boolean;
  log: Logger;
}

/** What the watch says on GET /healthz: its answer to peers, and why it is down when it is. */
export interface ReplicaHealth extends ReplicaAnswer {
  reason: string | null;
  /** How many other replicas it would ask (registered and seen lately, as it last read them). */
  peers: number;
}

/**
 * One replica's side of "one voice when the database goes away" (rules: core/outage.ts). It
 * remembers when this replica lost the database and whether an outage was announced; while down,
 * each round asks the live peers (as last read from rollout.replicas) and either stays quiet (its
 * own path, a blip, another speaker) or posts the one "unavailable". When the database answers
 * again, a replica that knows of an announced outage records its "back" through the database
 * (db/replicas.ts: once, whoever gets there first), so it is said once even if the announcer died.
 */
export class OutageWatch {
  private downSince: Date | null = null;
  private wasLeader = false;
  private reason: string | null = null;
  /** The outage under way that was announced (by this replica or a peer); null once the database answers. */
  private announced: OutageKey | null = null;
  /** Announced outages whose "back" this replica has not yet seen recorded (tried at every contact). */
  private owedBacks: OutageKey[] = [];
  /** The last announced outage this replica saw end (it reached the database after it); told to peers. */
  private ended: OutageKey | null = null;
  private ownPathLogged = false;
  private peersKnown: ReplicaRow[] = [];
  private peersReadAt = Number.NEGATIVE_INFINITY;
  private noticeTriedAt = Number.NEGATIVE_INFINITY;
  private round_: Promise<void> | null = null;
  private readonly log: Logger;

  constructor(private readonly deps: OutageWatchDeps) {
    this.log = deps.log.child({ component: 'database' });
  }

  get isDown(): boolean {
    return this.downSince !== null;
  }

  /** A query or connection failed because the database cannot be reached (engine/errors.ts). */
  lost(during: string, err: unknown): void {
    this.reason = describeError(err);
    if (this.downSince) return;
    this.downSince = this.deps.now();
    this.wasLeader = this.deps.leading();
    this.ownPathLogged = false;
    this.log.error('database unavailable', { during, error: this.reason, replica: this.deps.replica.id });
  }

  /**
   * The database answered. Ends this replica's outage (recording an announced one's "back"), and
   * every evaluateEvery says this replica is alive and rereads who its peers are. Never throws:
   * a failure here is the next outage, which the next query finds.
   */
  async reached(): Promise<void> {
    const now = this.deps.now();
    if (this.downSince) {
      this.log.info('database available again', { unavailableMs: now.getTime() - this.downSince.getTime() });
      this.downSince = null;
      this.reason = null;
    }
    // The outage is over for this replica whether or not its end can be recorded yet: a key kept
    // past it would make this replica, and every peer that asks, take the next outage as announced.
    if (this.announced) {
      this.owedBacks.push(this.announced);
      this.ended = this.announced;
    }
    this.announced = null;
    for (const key of [...this.owedBacks]) {
      try {
        const recorded = await recordOutageBack(this.deps.db.pool, key, now, this.deps.replica.id);
        if (recorded) this.log.info('outage recorded as over; "back" queued', { announcedBy: key.by, since: key.since });
        this.owedBacks = this.owedBacks.filter((k) => k !== key);
      } catch (err) {
        this.log.warn('could not record the end of the outage yet; will retry', { error: describeError(err) });
        break;
      }
    }
    // Twice an evaluation: a replica that starts is known to the others within half of one.
    if (now.getTime() - this.peersReadAt >= this.deps.evaluateEveryMs / 2) {
      try {
        await touchReplica(this.deps.db.pool, this.deps.replica, now);
        // Alive: seen within three evaluations (a replica touches its row every evaluation).
        this.peersKnown = (await liveReplicas(this.deps.db.pool, new Date(now.getTime() - 3 * this.deps.evaluateEveryMs))).filter(
          (r) => r.id !== this.deps.replica.id,
        );
        this.peersReadAt = now.getTime();
      } catch (err) {
        this.log.warn('could not register this replica', { error: describeError(err) });
      }
    }
  }

  /** This replica's answer to a peer, given whether it reaches the database this moment. */
  health(databaseUp: boolean): ReplicaHealth {
    return {
      id: this.deps.replica.id,
      database: databaseUp ? 'up' : 'down',
      downSince: this.downSince?.toISOString() ?? null,
      // A leader that has not yet noticed the outage is still the one that led when it began.
      wasLeader: this.downSince ? this.wasLeader : this.deps.leading(),
      announced: this.announced,
      ended: this.ended,
      reason: databaseUp ? null : this.reason,
      peers: this.peersKnown.length,
    };
  }

  /** While down: ask the peers and apply the rules once. Rounds never overlap. */
  round(): Promise<void> {
    if (!this.downSince) return Promise.resolve();
    this.round_ ??= this.decide().finally(() => {
      this.round_ = null;
    });
    return this.round_;
  }

  /** A replica that stops on purpose leaves the peer list (when it can; a dead one ages out). */
  async leave(): Promise<void> {
    if (this.downSince) return;
    await removeReplica(this.deps.db.pool, this.deps.replica.id).catch(() => {});
  }

  /**
   * A peer saw the announced outage end, but this replica never reached the database meanwhile
   * (a short return, a loaded host), and now no peer reaches it either: this is the next outage. Without this it would
   * hold the last outage's key and answer it to its peers, and nobody would announce this one.
   * It did not lead in the gap (leading takes the database), and its outage, as the others can
   * count it, begins now.
   */
  private outageEndedUnseen(now: Date): void {
    const last = this.announced!;
    this.log.warn('the announced outage ended while this replica could not reach the database; this is the next one', {
      announcedBy: last.by,
      since: last.since,
    });
    this.owedBacks.push(last);
    this.ended = last;
    this.announced = null;
    this.downSince = now;
    this.wasLeader = false;
    this.noticeTriedAt = Number.NEGATIVE_INFINITY;
  }

  private async decide(): Promise<void> {
    const { peers } = this.deps;
    const asked = this.peersKnown.filter((p) => p.url);
    const answers = peers ? (await Promise.all(asked.map((p) => peers.ask(p.url!)))).filter((a) => a !== null) : [];
    if (!this.downSince) return;
    const now = this.deps.now();
    // Only once no peer reaches the database either: before that, this replica is just late back.
    if (this.announced && outageOver(this.announced, answers) && !answers.some((a) => a.database === 'up')) this.outageEndedUnseen(now);
    const self = this.health(false);
    const decision = decideOutage(self, answers, now.getTime(), outageGraceMs(this.deps.evaluateEveryMs));
    switch (decision.kind) {
      case 'own_path':
        if (!this.ownPathLogged)
          this.log.warn('this replica cannot reach the database but another replica does: its own path, not announced', {
            reaches: decision.peer,
            error: this.reason,
          });
        this.ownPathLogged = true;
        return;
      case 'announced':
        this.announced = decision.key;
        return;
      case 'wait':
        return;
      case 'announce':
        // A notice that fails (Slack down too) is tried again, at most once an evaluation.
        if (now.getTime() - this.noticeTriedAt < this.deps.evaluateEveryMs) return;
        this.noticeTriedAt = now.getTime();
        try {
          await this.deps.sink.notice(
            `Database unavailable (${this.reason}). The guard is paused: no evaluation, so no rollback can come from the gap; a red line that held through it is acted on once the database is back. Commands answer "database unavailable" meanwhile.`,
          );
          this.announced = decision.key;
          this.log.warn('database outage announced', {
            since: decision.key.since,
            asked: asked.length,
            answered: answers.map((r) => `${r.id}: ${r.database}`).join(', '),
          });
        } catch (err) {
          this.log.warn('could not announce the database outage; will try again', { error: describeError(err) });
        }
    }
  }
}
