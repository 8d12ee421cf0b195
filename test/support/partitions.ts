import type pg from 'pg';

/*
 * analytics_logs as a busy app keeps it at scale: range-partitioned by day, pg_partman style (one
 * partition per day named analytics_logs_pYYYYMMDD, a few made ahead, a DEFAULT one for rows
 * outside them), with the seed's columns. Made by the tables' owner; the bot's role keeps its
 * SELECT. The index migration is forgotten, so the next start has it to do.
 */

const DAY = 86_400_000;

export interface PartitionedOptions {
  /** Any instant of the day that is "today". */
  today: Date;
  /** Days of history before today, and partitions made ahead after it. */
  daysBack: number;
  daysAhead: number;
  /** gen_route and gen_ok rows spread over each past day (and today up to `today`). */
  rowsPerDay: number;
  /** Rows outside every day's range (a client clock far off), which land in DEFAULT. */
  defaultRows: number;
  /** The oldest day sub-partitioned in two by hash of id (a tree deeper than one level). */
  subPartitionOldest?: boolean;
}

export interface PartitionedTable {
  /** Leaf partitions, DEFAULT included. */
  leaves: string[];
  /** Each day's partition and its range. */
  days: { name: string; from: Date; to: Date }[];
}

const dayName = (t: number) => `analytics_logs_p${new Date(t).toISOString().slice(0, 10).replaceAll('-', '')}`;

export async function partitionAnalytics(pool: Pick<pg.Pool, 'query'>, o: PartitionedOptions): Promise<PartitionedTable> {
  const first = Math.floor(o.today.getTime() / DAY) * DAY - o.daysBack * DAY;
  const days = Array.from({ length: o.daysBack + 1 + o.daysAhead }, (_, i) => {
    const from = first + i * DAY;
    return { name: dayName(from), from: new Date(from), to: new Date(from + DAY) };
  });
  const leaves: string[] = [];
  const statements = [
    'DROP TABLE analytics_logs',
    `CREATE TABLE analytics_logs (
       id         bigserial,
       event_type text NOT NULL,
       event_data jsonb,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (id, created_at)
     ) PARTITION BY RANGE (created_at)`,
  ];
  for (const [i, d] of days.entries()) {
    const range = `FOR VALUES FROM ('${d.from.toISOString()}') TO ('${d.to.toISOString()}')`;
    if (i === 0 && o.subPartitionOldest) {
      statements.push(`CREATE TABLE ${d.name} PARTITION OF analytics_logs ${range} PARTITION BY HASH (id)`);
      for (const r of [0, 1]) {
        statements.push(`CREATE TABLE ${d.name}_h${r} PARTITION OF ${d.name} FOR VALUES WITH (MODULUS 2, REMAINDER ${r})`);
        leaves.push(`${d.name}_h${r}`);
      }
    } else {
      statements.push(`CREATE TABLE ${d.name} PARTITION OF analytics_logs ${range}`);
      leaves.push(d.name);
    }
  }
  statements.push('CREATE TABLE analytics_logs_default PARTITION OF analytics_logs DEFAULT');
  leaves.push('analytics_logs_default');
  statements.push(
    `DO $$ BEGIN
       IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rollout_bot') THEN GRANT SELECT ON analytics_logs TO rollout_bot; END IF;
     END $$`,
    `DELETE FROM rollout.migrations WHERE name LIKE '%analytics_index%'`,
  );
  for (const s of statements) await pool.query(s);
  await pool.query(
    `INSERT INTO analytics_logs (event_type, event_data, created_at)
     SELECT CASE WHEN i % 3 = 0 THEN 'gen_ok' ELSE 'gen_route' END,
            jsonb_build_object('provider', CASE WHEN i % 2 = 0 THEN 'fal' ELSE 'runware' END, 'latency_ms', 1000 + i % 3000, 'cost_per_image', 0.005),
            $1::timestamptz + (($2::timestamptz - $1::timestamptz) * i / $3)
     FROM generate_series(1, $3::int) AS i`,
    [new Date(first), o.today, Math.round(((o.today.getTime() - first) / DAY) * o.rowsPerDay)],
  );
  // Before the first day and after the last one made ahead: only DEFAULT takes them.
  await pool.query(
    `INSERT INTO analytics_logs (event_type, event_data, created_at)
     SELECT 'gen_route', '{"provider":"runware","latency_ms":1000}', CASE WHEN i % 2 = 0 THEN $1::timestamptz ELSE $2::timestamptz END
     FROM generate_series(1, $3::int) AS i`,
    [new Date(first - 30 * DAY), new Date(days[days.length - 1].to.getTime() + 30 * DAY), o.defaultRows],
  );
  await pool.query('ANALYZE analytics_logs');
  return { leaves, days };
}

export interface LeafIndex {
  leaf: string;
  index: string;
  valid: boolean;
  /** The partitioned index it is attached to, or null. */
  parent: string | null;
}

/** Every index of each leaf partition on exactly (event_type, created_at), and where it is attached. */
export async function leafIndexes(pool: Pick<pg.Pool, 'query'>): Promise<LeafIndex[]> {
  const { rows } = await pool.query<LeafIndex>(
    `SELECT t.relid::regclass::text AS leaf, i.indexrelid::regclass::text AS index, i.indisvalid AS valid,
            (SELECT inhparent::regclass::text FROM pg_inherits WHERE inhrelid = i.indexrelid) AS parent
     FROM pg_partition_tree('analytics_logs') t
     JOIN pg_index i ON i.indrelid = t.relid
     WHERE t.isleaf AND pg_get_indexdef(i.indexrelid) LIKE '%USING btree (event_type, created_at)'
     ORDER BY 1, 2`,
  );
  return rows;
}

/** The parent's (event_type, created_at) index: its name and whether it is valid; null when there is none. */
export async function parentIndex(pool: Pick<pg.Pool, 'query'>): Promise<{ index: string; valid: boolean } | null> {
  const { rows } = await pool.query(
    `SELECT i.indexrelid::regclass::text AS index, i.indisvalid AS valid FROM pg_index i
     WHERE i.indrelid = 'analytics_logs'::regclass AND pg_get_indexdef(i.indexrelid) LIKE '%USING btree (event_type, created_at)'`,
  );
  return rows[0] ?? null;
}
