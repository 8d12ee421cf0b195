/*
 * The Slack side of bench/ack.ts, in its own process (forked with an IPC channel) so the bot's
 * event loop serves only the bot, as in production where Slack is elsewhere: it runs the fake
 * Slack Web API and response_url endpoints, posts signed `/rollout` commands to the bot's
 * /slack/events, and sends back the time from sending each POST to its HTTP answer. Singles go
 * one after another; bursts send ACK_BURST_SIZE at once. Signing happens before the clock starts.
 * Protocol: child → {fake: url}; parent → {port}; child → {single, burst, sent, statuses, replied}.
 * Env: ACK_SINGLES, ACK_BURSTS, ACK_BURST_SIZE.
 */
import { FakeSlack } from '../test/support/fake-slack.ts';
import { commandBody, sign } from '../test/support/slack-requests.ts';

const env = (k: string) => {
  const v = process.env[k];
  if (!v) throw new Error(`ack-sender: ${k} is not set`);
  return v;
};
const fake = await new FakeSlack().start();
const port = await new Promise<number>((resolve) => {
  process.once('message', (m: { port: number }) => resolve(m.port));
  process.send!({ fake: fake.url });
});
const respondBase = fake.url;
const singles = Number(env('ACK_SINGLES'));
const bursts = Number(env('ACK_BURSTS'));
const burstSize = Number(env('ACK_BURST_SIZE'));

const ADMIN = 'U_BENCH_ADMIN';
// status reads every window; history reads the audit; a non-admin's d1 is refused and audited; help.
const COMMANDS: [string, string][] = [
  [ADMIN, 'status'],
  [ADMIN, 'history'],
  ['U_BENCH_VIEWER', 'd1'],
  [ADMIN, 'help'],
];
let n = 0;
const statuses: Record<number, number> = {};

async function one(): Promise<number> {
  const i = n++;
  const [user, text] = COMMANDS[i % COMMANDS.length];
  const body = commandBody(user, text, `${respondBase}/respond/ack-${i}`);
  const ts = Math.floor(Date.now() / 1000);
  const headers = {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(ts),
    'x-slack-signature': sign(body, ts),
  };
  const t = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/slack/events`, { method: 'POST', headers, body });
  await res.arrayBuffer();
  const took = performance.now() - t;
  statuses[res.status] = (statuses[res.status] ?? 0) + 1;
  return took;
}

for (let i = 0; i < 5; i++) await one(); // warm-up: JIT on both sides, keep-alive sockets
const single: number[] = [];
for (let i = 0; i < singles; i++) single.push(await one());
const burst: number[] = [];
for (let b = 0; b < bursts; b++) {
  burst.push(...(await Promise.all(Array.from({ length: burstSize }, () => one()))));
  await new Promise((r) => setTimeout(r, 200));
}
// The answers come after the 2 s queries; give the handlers a while to end on their own.
const answered = () => new Set(fake.replies.map((r) => r.url)).size;
await fake.until(() => answered() >= n, 'replies', 30_000).catch(() => {});
process.send!({ single, burst, sent: n, statuses, replied: answered() }, () => {
  void fake.stop().then(() => process.exit(0));
});
