import pg from 'pg';

/** Exactly one replica runs the guard, the reports and the outbox: the one holding this lock. */
const LEADER_LOCK = 7_406_211_003;

export interface Leadership {
  /** Checks (and if free, takes) leadership; false while another replica holds it; throws when the database cannot be reached. */
  check(): Promise<boolean>;
  release(): Promise<void>;
}

/** PGlite is one process by construction (the data folder is locked): always the leader. */
export const soleLeader = (): Leadership => ({ check: async () => true, release: async () => {} });

/**
 * A session advisory lock on a dedicated connection: held as long as this process and its
 * connection live, released by Postgres the moment either dies, so a standby replica takes over
 * at its next check. Reuses Postgres; no consensus of our own.
 */
export function advisoryLeader(url: string): Leadership {
  let client: pg.Client | null = null;
  let leading = false;
  const drop = async () => {
    const c = client;
    client = null;
    leading = false;
    if (c) await c.end().catch(() => {});
  };
  return {
    async check() {
      try {
        if (!client) {
          const c = new pg.Client({ connectionString: url, application_name: 'rollout-bot-leader', connectionTimeoutMillis: 5_000 });
          c.on('error', () => {
            if (client === c) {
              client = null;
              leading = false;
            }
          });
          await c.connect();
          client = c;
        }
        if (leading) {
          await client.query('SELECT 1');
          return true;
        }
        const { rows } = await client.query('SELECT pg_try_advisory_lock($1) AS ok', [LEADER_LOCK]);
        leading = rows[0].ok === true;
        return leading;
      } catch (err) {
        // Unreachable is not "someone else leads": the caller reports the outage.
        await drop();
        throw err;
      }
    },
    release: drop,
  };
}
