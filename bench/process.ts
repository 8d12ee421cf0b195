/*
 * npm run bench:process — the bot as a service runs it: compiled, one process per replica. On
 * real Postgres, Slack in HTTP mode against a stand-in Web API (SLACK_API_URL), it measures
 * - the processes and resident memory (VmRSS of the process and its children, from /proc) of an
 *   idle replica 30 s after its start, for `npm start`'s command and the alternatives;
 * - the time from spawn to the first `GET /healthz` 200;
 * - the handover after SIGTERM to the leader (signal → the standby's "leader:" log line), and
 *   after SIGKILL for comparison;
 * and prints each against its target. It builds dist/ first (`npm run build`), so it never
 * measures a stale build. Knobs: PROCESS_START_TRIALS=5, PROCESS_FAILOVER_TRIALS=5,
 * PROCESS_KILL_TRIALS=3, PROCESS_IDLE_SECONDS=30, PROCESS_VARIANTS=1 (0: npm start's command only).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { startArgs } from '../test/support/bot-process.ts';
import { databaseUrl, dropDatabase, recreateDatabase } from './engine.ts';
import { table } from './report.ts';
import { log, stats, type Stats } from './timing.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const NAME = 'rollout_bench_process';
const env = (k: string, d: string) => Number(process.env[k] ?? d);
const LEADS = /leader: this replica runs the guard/;

/** Targets of issue 18: one process, ≤ 100 MB idle, healthy within 1.5 s, handover ≤ 1 s. */
export const TARGETS = { rssMb: 100, healthyMs: 1_500, failoverMs: 1_000 };

interface Variant {
  name: string;
  command: string;
  args: string[];
}

const node = (args: string[]): Variant => ({ name: `node ${args.join(' ')}`, command: process.execPath, args });

function variants(all: boolean): Variant[] {
  const start = node(startArgs());
  if (!all) return [start];
  return [
    start,
    { name: 'npm start', command: 'npm', args: ['start', '--silent'] },
    node(['dist/main.js']),
    { name: 'tsx src/main.ts (npm run dev)', command: process.execPath, args: ['node_modules/tsx/dist/cli.mjs', 'src/main.ts'] },
  ];
}

/** USER_HZ: 100 on every Linux the bot runs on. */
const CLOCK_TICKS = 100;

/** One process of a tree, as /proc shows it. */
interface ProcInfo {
  pid: number;
  command: string;
  rssKb: number;
  anonKb: number;
  fileKb: number;
  /** user + system CPU time so far */
  cpuMs: number;
}

function procInfo(pid: number): ProcInfo | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    // /proc/<pid>/stat: fields 14 and 15 (utime, stime) in clock ticks, after the parenthesised name.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [utime, stime] = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .slice(11, 13)
      .map(Number);
    const cpuMs = ((utime + stime) * 1000) / CLOCK_TICKS;
    return { pid, command, rssKb: kb('VmRSS'), anonKb: kb('RssAnon'), fileKb: kb('RssFile') + kb('RssShmem'), cpuMs };
  } catch {
    return null;
  }
}

/** The process and all its descendants (every thread's children). */
function tree(pid: number): ProcInfo[] {
  const me = procInfo(pid);
  if (!me) return [];
  let children: number[] = [];
  try {
    children = readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    // gone meanwhile
  }
  return [me, ...children.flatMap(tree)];
}

/** Every replica spawned, so a failed run leaves none behind. */
const spawned = new Set<ChildProcess>();

/** A spawned replica whose log lines are timestamped as they arrive. */
class Replica {
  readonly child: ChildProcess;
  readonly spawnedAt = performance.now();
  readonly exited: Promise<number | null>;
  private lines: { at: number; text: string }[] = [];
  private waiters: { pattern: RegExp; resolve: (at: number) => void }[] = [];

  constructor(
    variant: Variant,
    readonly port: number,
    extraEnv: Record<string, string>,
  ) {
    this.child = spawn(variant.command, variant.args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'info', PORT: String(port), ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    spawned.add(this.child);
    let partial = '';
    const onData = (d: Buffer) => {
      const at = performance.now();
      const parts = (partial + d.toString()).split('\n');
      partial = parts.pop() ?? '';
      for (const text of parts) {
        this.lines.push({ at, text });
        for (const w of [...this.waiters])
          if (w.pattern.test(text)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(at);
          }
      }
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        spawned.delete(this.child);
        resolve(code);
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  output(): string {
    return this.lines.map((l) => l.text).join('\n');
  }

  /** When a line matching pattern arrived (performance.now()); waits for it. */
  when(pattern: RegExp, timeoutMs = 60_000): Promise<number> {
    const seen = this.lines.find((l) => pattern.test(l.text));
    if (seen) return Promise.resolve(seen.at);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${this.output()}`)), timeoutMs);
      this.waiters.push({
        pattern,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      });
      void this.exited.then((code) => reject(new Error(`exited (${code}) before ${pattern}:\n${this.output()}`)));
    });
  }

  /** CPU time the process tree has used so far (user + system, from /proc), ms. */
  cpuMs(): number {
    return tree(this.pid).reduce((a, p) => a + p.cpuMs, 0);
  }

  /** Milliseconds from spawn to the first 200 from GET /healthz (polled every 10 ms), and the CPU time used by then. */
  async healthy(timeoutMs = 60_000): Promise<{ ms: number; cpuMs: number }> {
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${this.port}/healthz`).then(
        (r) => r.status === 200,
        () => false,
      );
      const now = performance.now();
      if (ok) return { ms: now - this.spawnedAt, cpuMs: this.cpuMs() };
      if (this.child.exitCode !== null) throw new Error(`exited (${this.child.exitCode}) before /healthz:\n${this.output()}`);
      if (now - this.spawnedAt > timeoutMs) throw new Error(`/healthz not 200 within ${timeoutMs} ms:\n${this.output()}`);
      await sleep(10);
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** Slack's Web API, stood in: every method answers ok. An idle bot calls none. */
async function standInSlack(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`, server };
}

/** The V8 heap as the bot's own /metrics reports it (prom-client's process metrics). */
async function heapFromMetrics(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const name of ['nodejs_heap_size_total_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_external_memory_bytes']) {
    const m = new RegExp(`^${name} ([\\d.e+]+)`, 'm').exec(text);
    if (m) out[name] = Number(m[1]);
  }
  return out;
}

export interface IdleResult {
  variant: string;
  healthyMs: number;
  healthyCpuMs: number;
  processes: ProcInfo[];
  totalRssMb: number;
  /** The replica's own node process (the last of the tree that runs dist/ or src/). */
  node: ProcInfo;
  /** VmRSS again at twice the idle time (no-flag variant only): what V8 gives back when idle. */
  laterRssMb: number | null;
  heap: Record<string, number>;
}

export interface ProcessResult {
  machine: string;
  loadBefore: number[];
  loadAfter: number[];
  idleSeconds: number;
  migrateStartMs: number;
  healthy: Stats;
  /** CPU time the bot had used when /healthz first answered 200: the start's cost on a machine of its own. */
  healthyCpu: Stats;
  idle: IdleResult[];
  sigterm: { ms: Stats; exitCodes: (number | null)[]; stopMs: number[] };
  sigkill: Stats | null;
}

/** `npm run build`: dist/ as the sources are now, so a bench never measures a stale build. */
export async function build(): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  await new Promise<void>((resolve, reject) =>
    execFile(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT }, (err, stdout, stderr) =>
      err ? reject(new Error(`npm run build failed:\n${stdout}${stderr}`)) : resolve(),
    ),
  );
}

export async function processBench(base: string): Promise<ProcessResult> {
  const startTrials = env('PROCESS_START_TRIALS', '5');
  const failoverTrials = env('PROCESS_FAILOVER_TRIALS', '5');
  const killTrials = env('PROCESS_KILL_TRIALS', '3');
  const idleSeconds = env('PROCESS_IDLE_SECONDS', '30');
  const all = env('PROCESS_VARIANTS', '1') !== 0;
  log('process: npm run build…');
  await build();
  await recreateDatabase(base, NAME);
  const slack = await standInSlack();
  const botEnv = {
    DATABASE_URL: databaseUrl(base, NAME),
    SLACK_BOT_TOKEN: 'xoxb-bench',
    SLACK_SIGNING_SECRET: 'bench-signing-secret',
    SLACK_API_URL: slack.url,
    ROLLOUT_CHANNEL: 'C0BENCH',
    ROLLOUT_ADMINS: 'U0BENCH',
  };
  const loadBefore = os.loadavg();
  const [target, ...others] = variants(all);
  try {
    // The first start migrates the empty database; the starts that count find it migrated.
    let r = new Replica(target, await freePort(), botEnv);
    const migrateStartMs = (await r.healthy()).ms;
    await r.stop();
    log(`process: first start (migrations) healthy after ${migrateStartMs.toFixed(0)} ms`);

    const healthySamples: number[] = [];
    const cpuSamples: number[] = [];
    for (let i = 0; i < startTrials; i++) {
      r = new Replica(target, await freePort(), botEnv);
      const h = await r.healthy();
      healthySamples.push(h.ms);
      cpuSamples.push(h.cpuMs);
      await r.when(LEADS);
      await r.stop();
    }
    const healthy = stats(healthySamples);
    const healthyCpu = stats(cpuSamples);
    log(
      `process: /healthz 200 after median ${healthy.median.toFixed(0)} ms, max ${healthy.max.toFixed(0)} ms (CPU used by then: median ${healthyCpu.median.toFixed(0)} ms)`,
    );

    const idle: IdleResult[] = [];
    for (const v of [target, ...others]) {
      r = new Replica(v, await freePort(), botEnv);
      const { ms: healthyMs, cpuMs: healthyCpuMs } = await r.healthy();
      await sleep(Math.max(0, idleSeconds * 1000 - (performance.now() - r.spawnedAt)));
      const processes = tree(r.pid);
      const bot = [...processes].reverse().find((p) => /dist\/main\.js|src\/main\.ts/.test(p.command)) ?? processes[0];
      let laterRssMb: number | null = null;
      if (v.args.join(' ') === 'dist/main.js') {
        await sleep(idleSeconds * 1000);
        laterRssMb = (procInfo(bot.pid)?.rssKb ?? NaN) / 1024;
      }
      const heap = await heapFromMetrics(r.port);
      await r.stop();
      const totalRssMb = processes.reduce((a, p) => a + p.rssKb, 0) / 1024;
      idle.push({ variant: v.name, healthyMs, healthyCpuMs, processes, totalRssMb, node: bot, laterRssMb, heap });
      log(`process: ${v.name}: ${processes.length} process(es), ${totalRssMb.toFixed(1)} MB resident at ${idleSeconds} s`);
    }

    // Two replicas; SIGTERM the leader at a random moment, time the standby's "leader:" line.
    const sigtermMs: number[] = [];
    const exitCodes: (number | null)[] = [];
    const stopMs: number[] = [];
    let leader = new Replica(target, await freePort(), botEnv);
    await leader.when(LEADS);
    const handover = async (signal: NodeJS.Signals) => {
      const standby = new Replica(target, await freePort(), botEnv);
      await standby.healthy();
      await sleep(Math.random() * 3_000);
      const sent = performance.now();
      const exited = leader.stop(signal);
      const led = await standby.when(LEADS, 60_000);
      const code = await exited;
      const stopped = /stopped in (\d+) ms/.exec(leader.output());
      leader = standby;
      return { ms: led - sent, code, stopMs: stopped ? Number(stopped[1]) : NaN };
    };
    for (let i = 0; i < failoverTrials; i++) {
      const h = await handover('SIGTERM');
      sigtermMs.push(h.ms);
      exitCodes.push(h.code);
      stopMs.push(h.stopMs);
      log(`process: SIGTERM trial ${i + 1}: the standby led ${h.ms.toFixed(0)} ms after the signal; the old leader exited ${h.code}`);
    }
    const killMs: number[] = [];
    for (let i = 0; i < killTrials; i++) {
      const h = await handover('SIGKILL');
      killMs.push(h.ms);
      log(`process: SIGKILL trial ${i + 1}: the standby led ${h.ms.toFixed(0)} ms after the kill`);
    }
    await leader.stop();
    return {
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GB, Node ${process.version}`,
      loadBefore,
      loadAfter: os.loadavg(),
      idleSeconds,
      migrateStartMs,
      healthy,
      healthyCpu,
      idle,
      sigterm: { ms: stats(sigtermMs), exitCodes, stopMs },
      sigkill: killMs.length ? stats(killMs) : null,
    };
  } finally {
    for (const child of spawned) child.kill('SIGKILL');
    await new Promise((r) => slack.server.close(r));
    await dropDatabase(base, NAME);
  }
}

const mb = (kb: number) => (kb / 1024).toFixed(1);
const verdict = (ok: boolean) => (ok ? 'MET' : 'NOT MET');

export function printProcess(r: ProcessResult): string {
  const out: string[] = [];
  const target = r.idle[0];
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  out.push('## The bot as a service: processes, memory, start, handover (bench/process.ts)');
  out.push(
    `${r.machine}; load average (1/5/15 min) ${load(r.loadBefore)} before, ${load(r.loadAfter)} after. Slack HTTP mode against a stand-in Web API, DATABASE_URL on the local Postgres; an idle leader (no rollout), VmRSS read ${r.idleSeconds} s after spawn.`,
    '',
  );
  out.push(
    table(
      ['command', 'processes', 'VmRSS total MB', 'bot process MB (anon + file)', '/healthz 200 after ms (CPU ms)'],
      r.idle.map((i) => [
        i.variant,
        String(i.processes.length),
        i.totalRssMb.toFixed(1),
        `${mb(i.node.rssKb)} (${mb(i.node.anonKb)} + ${mb(i.node.fileKb)})${i.laterRssMb !== null ? `; ${i.laterRssMb.toFixed(1)} at ${2 * r.idleSeconds} s` : ''}`,
        `${i.healthyMs.toFixed(0)} (${i.healthyCpuMs.toFixed(0)})`,
      ]),
    ),
  );
  for (const i of r.idle)
    if (i.processes.length > 1)
      out.push(`- ${i.variant}: ${i.processes.map((p) => `${p.command.split(' ').slice(0, 3).join(' ')} ${mb(p.rssKb)} MB`).join('; ')}`);
  const h = target.heap;
  const m = (b: number | undefined) => (b === undefined ? '?' : (b / 1024 ** 2).toFixed(1));
  out.push(
    `- in ${target.variant}: anonymous ${mb(target.node.anonKb)} MB (V8 heap ${m(h.nodejs_heap_size_total_bytes)} MB reserved, ${m(h.nodejs_heap_size_used_bytes)} MB used; external ${m(h.nodejs_external_memory_bytes)} MB; the rest malloc and thread stacks), file-backed ${mb(target.node.fileKb)} MB (node's own code and data, shared with every node process on the host)`,
  );
  out.push(
    `- first start on an empty database (migrations): /healthz 200 after ${r.migrateStartMs.toFixed(0)} ms`,
    `- SIGTERM: the old leader stopped in ${r.sigterm.stopMs.map((s) => `${s}`).join(', ')} ms; exit codes ${r.sigterm.exitCodes.join(', ')}`,
  );
  if (r.sigkill)
    out.push(
      `- SIGKILL (no word from the leader; the standby's 1 s poll finds the lock free): median ${r.sigkill.median.toFixed(0)} ms, max ${r.sigkill.max.toFixed(0)} ms over ${r.sigkill.n}`,
    );
  out.push('', '## Targets (process)');
  out.push(
    `- one process per replica (${target.variant}): ${target.processes.length} (target 1): ${verdict(target.processes.length === 1)}`,
  );
  out.push(
    `- idle resident memory, ${target.variant}, ${r.idleSeconds} s after start: ${target.totalRssMb.toFixed(1)} MB (target ≤ ${TARGETS.rssMb} MB): ${verdict(target.totalRssMb <= TARGETS.rssMb)}`,
  );
  out.push(
    `- /healthz 200 after start: median ${r.healthy.median.toFixed(0)} ms, max ${r.healthy.max.toFixed(0)} ms over ${r.healthy.n} starts (target ≤ ${TARGETS.healthyMs} ms): ${verdict(r.healthy.max <= TARGETS.healthyMs)}; CPU used by then: median ${r.healthyCpu.median.toFixed(0)} ms, max ${r.healthyCpu.max.toFixed(0)} ms`,
  );
  const codesOk = r.sigterm.exitCodes.every((c) => c === 0);
  out.push(
    `- failover after SIGTERM to the leader: median ${r.sigterm.ms.median.toFixed(0)} ms, max ${r.sigterm.ms.max.toFixed(0)} ms over ${r.sigterm.ms.n} (target ≤ ${TARGETS.failoverMs} ms, exit 0): ${verdict(r.sigterm.ms.max <= TARGETS.failoverMs && codesOk)}`,
  );
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const base = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (!base) {
    console.error('bench:process needs BENCH_DATABASE_URL or TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres).');
    process.exit(2);
  }
  processBench(base).then(
    (r) => {
      console.log(printProcess(r));
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
