/*
 * npm run bench:ack — how fast the bot acknowledges a slash command while every database query
 * takes 2 s. Slack gives 3 s; the listener acks before touching the database, so the ack must
 * not wait for it.
 *
 * The real thing end to end: Bolt's HTTPReceiver on a free port (the bot's own Slack front end,
 * src/slack/front-end.ts), a fake Slack Web API and response_url (test/support/fake-slack.ts,
 * run by the sender),
 * requests signed as Slack signs them (test/support/slack-requests.ts), and the bot's database
 * behind a TCP proxy that holds everything the bot sends for 2 s (test/support/tcp-proxy.ts),
 * so every query — and every new connection — takes 2 s or more. A sender in its own process
 * (bench/ack-sender.ts) measures the time from sending the POST to the HTTP 200, for single
 * requests one after another, and for bursts of 20 at once.
 * The handlers keep running after the ack (each waits its 2 s queries behind the pool's five
 * connections), so later requests are measured with earlier ones still busy, as in an outage.
 *
 * Needs BENCH_DATABASE_URL (else TEST_DATABASE_URL); uses its own database rollout_bench_ack.
 * Knobs: ACK_SINGLES=100, ACK_BURSTS=10, ACK_BURST_SIZE=20, ACK_DELAY_MS=2000.
 */
import { chartPng } from '../src/adapters/chart-png.ts';
import { fork } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openDatabase } from '../src/db/database.ts';
import { adminList } from '../src/engine/access.ts';
import { soleLeader } from '../src/engine/leader.ts';
import { RolloutService } from '../src/engine/service.ts';
import { silentLogger } from '../src/log.ts';
import { createSlackFrontEnd } from '../src/slack/front-end.ts';
import { SIGNING_SECRET } from '../test/support/slack-requests.ts';
import { tcpProxy } from '../test/support/tcp-proxy.ts';
import { benchPlan, databaseUrl, dropDatabase, openBot, recreateDatabase } from './engine.ts';
import { log, stats, type Stats } from './timing.ts';

export interface AckResult {
  delayMs: number;
  single: Stats;
  burst: Stats;
  burstSize: number;
  bursts: number;
  /** One query through the slow proxy, to show the delay is real. */
  queryMs: number;
  non200: number;
  /** Commands that got a reply through response_url (the answer, or the slow-database notice) within 30 s after the last one. */
  replied: number;
  sent: number;
}

const ADMIN = 'U_BENCH_ADMIN'; // as in bench/ack-sender.ts

export async function ackBench(
  base: string,
  opts: { singles?: number; bursts?: number; burstSize?: number; delayMs?: number } = {},
): Promise<AckResult> {
  const singles = opts.singles ?? 100;
  const bursts = opts.bursts ?? 10;
  const burstSize = opts.burstSize ?? 20;
  const delayMs = opts.delayMs ?? 2_000;
  const name = 'rollout_bench_ack';
  await recreateDatabase(base, name);
  const url = databaseUrl(base, name);
  await (await openBot(url, true)).close(); // migrations, directly
  const target = new URL(url);
  const proxy = await tcpProxy({ host: target.hostname, port: Number(target.port || 5432) }, { delayMs });
  const db = await openDatabase({ databaseUrl: proxy.url(url) });
  const child = fork(fileURLToPath(new URL('./ack-sender.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ACK_SINGLES: String(singles), ACK_BURSTS: String(bursts), ACK_BURST_SIZE: String(burstSize) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const next = <T>() =>
    new Promise<T>((resolve, reject) => {
      child.once('message', (m) => resolve(m as T));
      void exited.then((code) => reject(new Error(`ack-sender exited with ${code}`)));
    });
  const fakeUrl = (await next<{ fake: string }>()).fake;
  const service = new RolloutService({
    db,
    plan: benchPlan(),
    now: () => new Date(),
    access: adminList([ADMIN]),
    health: { read: async () => ({ kind: 'not_configured' }) },
    charts: chartPng,
  });
  const front = createSlackFrontEnd({
    service,
    leader: soleLeader(),
    log: silentLogger,
    slack: { botToken: 'xoxb-bench', signingSecret: SIGNING_SECRET, apiUrl: `${fakeUrl}/api/`, channel: 'C0ROLLOUT', port: 0 },
  });
  const port = (await front.listen())!;
  try {
    await db.pool.query('SELECT 1'); // opens a connection (itself slowed: start-up goes through the proxy)
    const t = performance.now();
    await db.pool.query('SELECT 1');
    const queryMs = performance.now() - t;
    log(
      `ack: one query through the slow proxy takes ${queryMs.toFixed(0)} ms; ${singles} single commands, then ${bursts} bursts of ${burstSize}…`,
    );
    const result = next<{ single: number[]; burst: number[]; sent: number; statuses: Record<string, number>; replied: number }>();
    child.send({ port });
    const sent = await result;
    await exited;
    const non200 = sent.sent - (sent.statuses['200'] ?? 0);
    log(`ack: ${sent.replied}/${sent.sent} commands got a reply through response_url within 30 s`);
    return {
      delayMs,
      single: stats(sent.single),
      burst: stats(sent.burst),
      burstSize,
      bursts,
      queryMs,
      non200,
      replied: sent.replied,
      sent: sent.sent,
    };
  } finally {
    child.kill();
    await front.stop().catch(() => {});
    await proxy.close();
    await db.close().catch(() => {});
    await dropDatabase(base, name);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const base = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (!base) {
    console.error('bench:ack needs BENCH_DATABASE_URL or TEST_DATABASE_URL');
    process.exit(2);
  }
  const n = (k: string) => (process.env[k] ? Number(process.env[k]) : undefined);
  const r = await ackBench(base, {
    singles: n('ACK_SINGLES'),
    bursts: n('ACK_BURSTS'),
    burstSize: n('ACK_BURST_SIZE'),
    delayMs: n('ACK_DELAY_MS'),
  });
  const f = (s: Stats) => `p50 ${s.median.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, max ${s.max.toFixed(1)} ms (n = ${s.n})`;
  console.log(`slash-command ack with every query delayed ${r.delayMs} ms (one query measured ${r.queryMs.toFixed(0)} ms):`);
  console.log(`  single requests:        ${f(r.single)}`);
  console.log(`  bursts of ${r.burstSize} at once: ${f(r.burst)}`);
  console.log(`  non-200 answers: ${r.non200}; answered through response_url before the bench stopped: ${r.replied}/${r.sent}`);
  process.exit(0);
}
