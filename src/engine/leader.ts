import pg from 'pg';

/** Exactly one replica runs the guard, the reports and the outbox: the one holding this lock. */
const LEADER_LOCK = 7_406_211_003n;
// How pg_locks shows a bigint advisory key: high and low 32 bits.
const LOCK_CLASSID = Number(LEADER_LOCK >> 32n);
const LOCK_OBJID = Number(LEADER_LOCK & 0xffffffffn);

export interface Leadership {
  /** Checks (and if free, takes) leadership; false while another replica holds it; throws when the database cannot be reached. */
  check(): Promise<boolean>;
  /**
   * True only if this process holds the lock right now, proved by a query on the lock's own
   * connection. Called before every act only a leader may do (deliver the outbox, post a
   * report, edit a checklist); never throws.
   */
  confirm(): Promise<boolean>;
  /** Lets go at once (a leader also tells the standbys, see watch); safe to call when not leading. */
  release(): Promise<void>;
  /**
   * Calls `wake` when a leader announces it let go, so a standby tries the lock at once rather
   * than at its next poll. A leader that dies without a word is found by the poll alone.
   */
  watch?(wake: () => void): void;
}

/** PGlite is one process by construction (the data folder is locked): always the leader. */
export const soleLeader = (): Leadership => ({ check: async () => true, confirm: async () => true, release: async () => {} });

/** A leader that lets go NOTIFYs here; every replica LISTENs on its lock connection. */
const RELEASED_CHANNEL = 'rollout_leader_released';

export interface LeaderTimings {
  /** The leader pings its lock connection this often while it leads. */
  heartbeatMs: number;
  /**
   * Postgres ends the lock's session when it has been idle this long (idle_session_timeout),
   * which frees the lock: a leader whose host vanished, or that is cut off, loses it this long
   * after its last heartbeat, whatever TCP does. Must exceed heartbeatMs comfortably.
   */
  sessionTimeoutMs: number;
  /** A query on the lock connection that takes longer counts as a lost connection. */
  queryTimeoutMs: number;
}

/**
 * The timings for a leader that loses the lock `sessionTimeoutMs` after it goes silent
 * (ROLLOUT_LEADER_TIMEOUT_SECONDS, default 30 s): it heartbeats three times in that window, and a
 * lock query may take 5 s (less only when the window is shorter than 30 s).
 */
export function leaderTimings(sessionTimeoutMs = 30_000): LeaderTimings {
  return { heartbeatMs: sessionTimeoutMs / 3, sessionTimeoutMs, queryTimeoutMs: Math.min(5_000, sessionTimeoutMs / 3) };
}

export class TransactionPoolerError extends Error {}

const POOLER_ADVICE =
  'session advisory locks (leadership, migrations) do not hold there. Point DATABASE_URL at Postgres directly or at a session-mode pooler (Supabase: the direct connection or port 5432)';

/**
 * At start: two connections that share one server session can only be a transaction-mode pooler
 * (PgBouncer pool_mode=transaction, Supabase's port 6543). Best effort: a busy pooler may hand
 * out two sessions and pass; the leader's own check (the lock visible on its session) catches more.
 */
export async function assertSessionConnections(url: string): Promise<void> {
  const clients = [0, 1].map(
    () => new pg.Client({ connectionString: url, application_name: 'rollout-bot-check', connectionTimeoutMillis: 5_000 }),
  );
  try {
    await Promise.all(clients.map((c) => c.connect()));
    const [a, b] = await Promise.all(clients.map(async (c) => (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid));
    if (a === b)
      throw new TransactionPoolerError(
        `two connections to DATABASE_URL share one server session (pid ${a}): it goes through a transaction-mode pooler, and ${POOLER_ADVICE}`,
      );
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
}

/**
 * A session advisory lock on a dedicated connection: held as long as this process and its
 * connection live, released by Postgres the moment either dies, so a standby replica takes over
 * at its next check (the scheduler polls every second on a standby). A leader that stops on
 * purpose unlocks and NOTIFYs, and the standbys, LISTENing on the same connection, try at once.
 * Reuses Postgres; no consensus of our own.
 *
 * A host that vanishes without closing its socket is the hard case: Postgres would keep the lock
 * until TCP gives up (about 2 h by default). So the session asks Postgres to end it when it goes
 * quiet (idle_session_timeout, PostgreSQL 14+) and to probe the peer (TCP keepalives, user
 * timeout), and the leader heartbeats well inside that: a standby leads within about
 * sessionTimeout + one standby poll of the leader's last word.
 */
export function advisoryLeader(url: string, timings: LeaderTimings = leaderTimings()): Leadership {
  let client: pg.Client | null = null;
  let leading = false;
  let heartbeat: NodeJS.Timeout | null = null;
  let wake: (() => void) | null = null;
  const drop = async () => {
    const c = client;
    client = null;
    leading = false;
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = null;
    // Bounded: end() on a connection that died mid-connect can wait for an 'end' that never comes,
    // and a check stuck here would stop this replica trying the lock (and noticing the database) for good.
    if (c) await Promise.race([c.end().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
  };
  const holds = async (c: pg.Client): Promise<boolean> => {
    const { rows } = await c.query(
      `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 1
                        AND granted AND pid = pg_backend_pid()) AS held`,
      [LOCK_CLASSID, LOCK_OBJID],
    );
    return rows[0].held === true;
  };
  const connect = async (): Promise<pg.Client> => {
    const c = new pg.Client({
      connectionString: url,
      application_name: 'rollout-bot-leader',
      connectionTimeoutMillis: 5_000,
      query_timeout: timings.queryTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    c.on('error', () => {
      if (client === c) void drop();
    });
    c.on('notification', (n) => {
      if (n.channel === RELEASED_CHANNEL && client === c && !leading) wake?.();
    });
    await c.connect();
    // Best effort: without it a standby still finds the lock free at its next poll.
    await c.query(`LISTEN ${RELEASED_CHANNEL}`).catch(() => {});
    const seconds = (ms: number) => Math.max(1, Math.round(ms / 1000));
    // The server's side of the same promise; each is best effort (a Unix socket has no TCP, older servers lack some).
    for (const setting of [
      `SET tcp_keepalives_idle = ${seconds(timings.heartbeatMs)}`,
      `SET tcp_keepalives_interval = ${seconds(timings.heartbeatMs / 2)}`,
      'SET tcp_keepalives_count = 3',
      `SET tcp_user_timeout = ${Math.round(timings.sessionTimeoutMs)}`,
    ])
      await c.query(setting).catch(() => {});
    return c;
  };
  return {
    async check() {
      try {
        if (!client) client = await connect();
        if (leading) {
          if (await holds(client)) return true;
          // The lock is gone (the session was ended and this connection is a new one, or a pooler moved us).
          await drop();
          return false;
        }
        const { rows } = await client.query('SELECT pg_try_advisory_lock($1) AS ok', [LEADER_LOCK.toString()]);
        if (rows[0].ok !== true) return false;
        if (!(await holds(client))) {
          await drop();
          throw new TransactionPoolerError(
            `the leader lock was granted to a different server session than the one asking for it: DATABASE_URL goes through a transaction-mode pooler, and ${POOLER_ADVICE}`,
          );
        }
        leading = true;
        const c = client;
        // Only the leader's session ends when it goes quiet: a standby's may idle between checks.
        await c.query(`SET idle_session_timeout = ${Math.round(timings.sessionTimeoutMs)}`).catch(() => {});
        heartbeat = setInterval(() => {
          c.query('SELECT 1').catch(() => {
            if (client === c) void drop();
          });
        }, timings.heartbeatMs);
        heartbeat.unref();
        return true;
      } catch (err) {
        // Unreachable is not "someone else leads": the caller reports the outage.
        await drop();
        throw err;
      }
    },
    async confirm() {
      if (!leading || !client) return false;
      try {
        if (await holds(client)) return true;
      } catch {
        // A connection that cannot answer cannot prove anything.
      }
      await drop();
      return false;
    },
    async release() {
      const c = client;
      if (c && leading) {
        // Unlock before the word goes out: a standby woken by it must find the lock free. The
        // session's end would free it too, but only once the server has noticed the socket close.
        await c.query('SELECT pg_advisory_unlock_all()').catch(() => {});
        await c.query(`NOTIFY ${RELEASED_CHANNEL}`).catch(() => {});
      }
      await drop();
    },
    watch(fn) {
      wake = fn;
    },
  };
}
