import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alice } from '../support/engine.ts';
import type { TestDatabase } from '../support/db.ts';
import { slackHarness, said, type SlackHarness } from '../support/slack-bot.ts';

/**
 * A real pg pool to a server that is not there (refused) or never answers (hangs). Enough slots
 * that the command never queues behind the scheduler's own failing attempts: under load that
 * queue turned "refused" into a pool wait timeout and made the reason vary.
 */
function databaseAt(port: number): TestDatabase {
  const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'rollout', database: 'rollout', connectionTimeoutMillis: 1_000, max: 10 });
  pool.on('error', () => {});
  return {
    kind: 'postgres',
    pool,
    app: pool,
    metricsPool: pool,
    description: 'unreachable',
    url: null,
    testUrl: null,
    ownerUrl: null,
    reset: async () => {},
    close: () => pool.end(),
  };
}

describe('a database that is down never makes Slack time out', () => {
  let refused: SlackHarness;
  let hanging: SlackHarness;
  let silent: Server;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    // A port nobody listens on: take a free one and close it again.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    refused = await slackHarness({ db: databaseAt(closedPort) });

    silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    hanging = await slackHarness({ db: databaseAt((silent.address() as AddressInfo).port), answerWithinMs: 200 });
  });
  afterAll(async () => {
    await refused.close();
    await refused.db.close();
    await hanging.close();
    await hanging.db.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it('unreachable: acks, then says privately that the database is unavailable', async () => {
    const replies = await refused.command(alice.id, 'rollback');
    expect(replies).toHaveLength(1);
    expect(replies[0].body.response_type).toBe('ephemeral');
    expect(said(replies)[0]).toMatch(/^The database is unavailable \(.*ECONNREFUSED.*\)\. Nothing was changed; try again in a minute\.$/);
  });

  it('unreachable: GET /healthz answers 503', async () => {
    const res = await fetch(`http://127.0.0.1:${refused.port}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      ok: false,
      bot: 'up',
      database: 'unavailable',
      slack: 'http',
      // What another replica reads when it too loses the database (engine/outage-watch.ts).
      replica: { id: expect.any(String), database: 'down', announced: null },
    });
  });

  it('slow: a first reply says the database has not answered, the result follows', async () => {
    const replies = await hanging.command(alice.id, 'status', 2);
    expect(said(replies)[0]).toMatch(
      /^The database has not answered within 0\.2 s; it may be unavailable\. Your command may still complete/,
    );
    expect(said(replies)[1]).toMatch(/^The database is unavailable \(.*timeout.*\)/i);
  });
});
