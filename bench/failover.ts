/*
 * npm run bench:failover — how long a standby replica takes to lead after the leader is
 * SIGKILLed, with real processes (the compiled build, as `npm start` runs it) on real Postgres
 * (evaluateEvery 30 s, the seed plan). Prints. The handover after SIGTERM: npm run bench:process.
 */
import { BotProcess } from '../test/support/bot-process.ts';
import { databaseUrl, dropDatabase, recreateDatabase } from './engine.ts';
import { build } from './process.ts';

const base = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
if (!base) {
  console.error('bench:failover needs BENCH_DATABASE_URL or TEST_DATABASE_URL');
  process.exit(2);
}
const NAME = 'rollout_bench_failover';
const TRIALS = Number(process.env.FAILOVER_TRIALS ?? 5);
await build();
await recreateDatabase(base, NAME);
const env = { DATABASE_URL: databaseUrl(base, NAME), ROLLOUT_USER: 'bench' };
const takeovers: number[] = [];
const start = () => BotProcess.start(env, /Console ready/, true);
let leader = await start();
await leader.waitFor(/leader: this replica runs the guard/);
for (let t = 0; t < TRIALS; t++) {
  const standby = await start();
  // Kill at a random point of the 30 s cycle, as a crash would.
  await new Promise((r) => setTimeout(r, Math.random() * 30_000));
  await leader.kill('SIGKILL');
  const killed = performance.now();
  await standby.waitFor(/leader: this replica runs the guard/, 60_000);
  takeovers.push((performance.now() - killed) / 1000);
  leader = standby;
  console.log(`trial ${t + 1}: standby led ${takeovers[t].toFixed(1)} s after the SIGKILL`);
}
await leader.kill('SIGTERM');
await dropDatabase(base, NAME);
const sorted = [...takeovers].sort((a, b) => a - b);
console.log(
  `takeover after SIGKILL: median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} s, max ${sorted[sorted.length - 1].toFixed(1)} s over ${TRIALS} trials (evaluateEvery 30 s)`,
);
