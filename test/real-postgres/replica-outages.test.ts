import net from 'node:net';
import { describe, it } from 'vitest';
import { BotProcess, eventually } from '../support/bot-process.ts';
import { tcpProxy } from '../support/tcp-proxy.ts';
import { cleanupOf, fastPlanFile, one, scratchDatabase, type Scratch } from './harness.ts';

// Three real replicas (the compiled build), each reaching Postgres through its own TCP proxy, so
// a test can cut the database for all of them or for one. The plan evaluates every 5 s, so an
// outage is announced after 5 s; the bots' URLs carry short timeouts (a statement cancelled after
// 1 s, an answer given up on after 2 s), so a black-holed database is found in seconds. Each test
// has its own database, proxies and processes, but they run one at a time: with seven bots at once
// on a loaded machine, answers slower than those timeouts made a replica judge a shared outage
// its own path. The file starts first in the run (test/support/sequencer.ts).

type Cleanup = ReturnType<typeof cleanupOf>;

const UNAVAILABLE = /\[notice\] Database unavailable/;
const BACK = /\[notice\] Database is back after \d/;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function scratch(cleanup: Cleanup): Promise<Scratch> {
  const s = await scratchDatabase();
  cleanup(() => s.close());
  return s;
}

interface Replica {
  bot: BotProcess;
  proxy: Awaited<ReturnType<typeof tcpProxy>>;
  port: number;
  health(): Promise<{ status: number; body: Record<string, unknown> }>;
}

async function replica(cleanup: Cleanup, db: Scratch, plan: string, ready = /Console ready/): Promise<Replica> {
  const proxy = await tcpProxy({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
  cleanup(() => proxy.close());
  const port = await freePort();
  const bot = await BotProcess.start(
    {
      DATABASE_URL: `${proxy.url(db.url)}?statement_timeout=1000&query_timeout=2000`,
      ROLLOUT_PLAN: plan,
      ROLLOUT_USER: 'alice',
      METRICS_PORT: String(port),
      // Loopback: the default (this host's first non-loopback address) works too, but tests talk to 127.0.0.1 only.
      ROLLOUT_ADVERTISE_URL: `http://127.0.0.1:${port}`,
    },
    ready,
  );
  cleanup(() => bot.kill());
  return {
    bot,
    proxy,
    port,
    async health() {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5_000) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
  };
}

/** Three replicas, registered, each having read who the others are. */
async function threeReplicas(cleanup: Cleanup, db: Scratch) {
  const plan = fastPlanFile();
  const replicas = await Promise.all([0, 1, 2].map(() => replica(cleanup, db, plan)));
  await eventually(
    () => one<{ n: number }>(db.pool, 'SELECT count(*)::int AS n FROM rollout.replicas'),
    (r) => r?.n === 3,
    20_000,
    'three replicas registered',
  );
  // Each rereads the list twice an evaluateEvery (5 s).
  for (const r of replicas)
    await eventually(
      async () => (await r.health()).body.replica,
      (seen) => (seen as { peers: number }).peers === 2,
      20_000,
      'peers known',
    );
  const leader = await eventually(
    async () => replicas.findIndex((r) => /leader: this replica runs the guard/.test(r.bot.output)),
    (i) => i >= 0,
    20_000,
    'a leader',
  );
  const count = (pattern: RegExp) => replicas.reduce((n, r) => n + r.bot.count(pattern), 0);
  /** What each replica said about the database and leadership: the story when a wait times out. */
  const story = () =>
    replicas
      .map(
        (r, i) =>
          `replica ${i}:\n${r.bot.output
            .split('\n')
            .filter((l) => /database|notice|leader|outage|own path|"level":"(warn|error)"/.test(l))
            .join('\n')}`,
      )
      .join('\n');
  const until = (pattern: RegExp, n: number, what: string, timeoutMs = 40_000) =>
    eventually(
      async () => count(pattern),
      (c) => c >= n,
      timeoutMs,
      what,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n${story()}`);
    });
  return { replicas, leader, count, until };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('one voice when the database goes away (three replicas)', () => {
  it('the database cut for all, then black-holed for all: one "unavailable" and one "back" per outage', async (ctx) => {
    const { expect } = ctx;
    const cleanup = cleanupOf(ctx);
    const db = await scratch(cleanup);
    const { replicas, count, until } = await threeReplicas(cleanup, db);

    // Cut: connections refused and reset.
    for (const r of replicas) r.proxy.down();
    await until(UNAVAILABLE, 1, 'the first "unavailable"');
    await settle(4_000);
    for (const r of replicas) expect((await r.health()).status).toBe(503);
    for (const r of replicas) r.proxy.up();
    await until(BACK, 1, 'the first "back"');

    // Black-holed: connections accepted, nothing answered, nothing closed.
    for (const r of replicas) r.proxy.stall();
    await until(UNAVAILABLE, 2, 'the second "unavailable"');
    await settle(4_000);
    for (const r of replicas) r.proxy.up();
    await until(BACK, 2, 'the second "back"');

    await settle(6_000); // more than one evaluateEvery: nothing more comes
    const said = replicas.map((r) => r.bot.output.split('\n').filter((l) => l.startsWith('[notice]')));
    expect(count(UNAVAILABLE), JSON.stringify(said)).toBe(2);
    expect(count(BACK), JSON.stringify(said)).toBe(2);
    const outages = await db.pool.query('SELECT ended_at - started_at AS length FROM rollout.outages');
    expect(outages.rowCount).toBe(2);
    for (const r of replicas) expect(r.bot.output).not.toMatch(/its own path/);
  });

  it("one replica's own path cut (the leader's): no channel notice; another leads and guards; its /healthz says why", async (ctx) => {
    const { expect } = ctx;
    const cleanup = cleanupOf(ctx);
    const db = await scratch(cleanup);
    const { replicas, leader, count } = await threeReplicas(cleanup, db);
    const cut = replicas[leader];
    const others = replicas.filter((r) => r !== cut);
    cut.proxy.down();
    await cut.bot.waitFor(/its own path, not announced/, 30_000);
    await eventually(
      async () => others.filter((r) => /leader: this replica runs the guard/.test(r.bot.output)).length,
      (n) => n === 1,
      20_000,
      'another replica leading',
    );
    await settle(8_000); // past the grace: still nothing said
    expect(count(UNAVAILABLE)).toBe(0);
    const seen = await cut.health();
    expect(seen.status).toBe(503);
    expect(seen.body).toMatchObject({
      database: 'unavailable',
      reason: expect.any(String),
      replica: { database: 'down', announced: null },
    });
    for (const r of others) expect((await r.health()).body).toMatchObject({ ok: true, replica: { database: 'up' } });
    const metrics = await (await fetch(`http://127.0.0.1:${cut.port}/metrics`)).text();
    expect(metrics).toMatch(/^rollout_database_reachable 0$/m);

    cut.proxy.up();
    await cut.bot.waitFor(/database available again/, 20_000);
    await settle(3_000);
    expect(count(UNAVAILABLE)).toBe(0);
    expect(count(BACK)).toBe(0);
  });

  it('a replica started while the database is unreachable waits (its /healthz says why) and comes up on its own when it returns', async (ctx) => {
    const { expect } = ctx;
    const cleanup = cleanupOf(ctx);
    const db = await scratch(cleanup);
    const proxy = await tcpProxy({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
    cleanup(() => proxy.close());
    proxy.down();
    const port = await freePort();
    const bot = await BotProcess.start(
      { DATABASE_URL: proxy.url(db.url), ROLLOUT_PLAN: fastPlanFile(), ROLLOUT_USER: 'alice', METRICS_PORT: String(port) },
      /cannot reach the database.*trying again in/,
    );
    cleanup(() => bot.kill());
    await bot.waitFor(/cannot reach the database[^\n]*trying again in[\s\S]*cannot reach the database[^\n]*trying again in/, 20_000);
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ok: false, bot: 'starting', reason: expect.stringMatching(/^cannot reach the database: /) });

    proxy.up();
    // Its tries are at most evaluateEvery (5 s) apart: it is up soon after (how soon is CPU load's business).
    await bot.waitFor(/Console ready/, 20_000);
    expect(bot.output).not.toMatch(/rollout-bot: cannot open/);
    await bot.waitFor(/leader: this replica runs the guard/, 10_000);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });
});
