import type pg from 'pg';

/** A literal for a bind parameter, so EXPLAIN shows the plan for these exact values. */
function literal(v: unknown): string {
  if (v instanceof Date) return `'${v.toISOString()}'::timestamptz`;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return `'${String(v).replace(/'/g, "''")}'`;
}

function inline(sql: string, params: unknown[]): string {
  return sql.replace(/\$(\d+)/g, (_, d) => literal(params[Number(d) - 1]));
}

/** EXPLAIN (ANALYZE, BUFFERS) of one query, as text. */
export async function explain(pool: Pick<pg.Pool, 'query'>, sql: string, params: unknown[]): Promise<string> {
  const { rows } = await pool.query(`EXPLAIN (ANALYZE, BUFFERS) ${inline(sql, params)}`);
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}
