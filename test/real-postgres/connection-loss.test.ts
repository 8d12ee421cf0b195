import { afterEach, expect, it } from 'vitest';
import { postgresPool, withTransaction } from '../../src/db/database.ts';
import { createScratchDatabase } from '../support/db.ts';
import { tcpProxy } from '../support/tcp-proxy.ts';

/*
 * A connection cut while a transaction holds it (a long chart read, a state change) must fail
 * that transaction, not the process: pg emits 'error' on a checked-out client, which the pool
 * does not listen to. Without a listener this test dies of an uncaught exception.
 */
const undo: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (undo.length) await undo.pop()!();
});

it('a connection cut in the middle of a transaction rejects it; the pool serves the next one once the database is back', async () => {
  const scratch = await createScratchDatabase();
  undo.push(() => scratch.drop());
  const target = new URL(scratch.url);
  const proxy = await tcpProxy({ host: target.hostname, port: Number(target.port) });
  undo.push(async () => proxy.close());
  const pool = postgresPool(proxy.url(scratch.url));
  undo.push(() => pool.end());

  const inFlight = withTransaction(pool, async (c) => {
    await c.query('SELECT 1');
    return c.query('SELECT pg_sleep(5)');
  });
  // Cut once the transaction has its connection and the sleep is running on the server.
  const owner = postgresPool(scratch.ownerUrl, 'rollout-tests', 1);
  undo.push(() => owner.end());
  const sleeping = async () =>
    (
      await owner.query(
        `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query = 'SELECT pg_sleep(5)' AND state = 'active'`,
      )
    ).rowCount;
  while (!(await sleeping())) await new Promise((r) => setTimeout(r, 20));
  proxy.down();
  await expect(inFlight).rejects.toThrow(/terminated|closed|ECONNRESET/i);

  // The dead client is gone from the pool: once the path is back, the next transaction is served.
  proxy.up();
  const next = await withTransaction(pool, (c) => c.query<{ one: number }>('SELECT 1 AS one'));
  expect(next.rows[0].one).toBe(1);
});
