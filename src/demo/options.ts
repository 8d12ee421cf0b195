import { durationLabel, parseDuration } from '../plan/duration.ts';
import { FAULT_KINDS, FAULTS, type FaultKind } from './faults.ts';

export interface DemoOptions {
  fault: FaultKind;
  /** Fault size in the fault's own unit (see FAULTS[kind].sizeMeaning). */
  size: number;
  /** When the fault starts, after D2 starts (simulated time). */
  onsetMs: number;
  /** Requests per second of the simulated app (simulated time). */
  rate: number;
  /** Simulated seconds per wall second (the soaks are divided by it too); null = as fast as the machine goes. */
  speed: number | null;
  seed: number;
  /** Where the story's charts go: a folder, null for a new temporary folder, false for none. */
  charts: string | null | false;
  help: boolean;
}

const DEFAULTS = { fault: 'latency' as FaultKind, onset: '2m', rate: 4, speed: 60, seed: 1 };

/** A bad option: the message names it and what to do. main() prints it and exits with code 2. */
export class DemoOptionError extends Error {}

export function helpText(): string {
  const faults = FAULT_KINDS.map((k) => `      ${k.padEnd(10)} --size = ${FAULTS[k].sizeMeaning} (default ${FAULTS[k].defaultSize})`).join(
    '\n',
  );
  return `npm run demo -- [options]

A rehearsal on this machine, nothing to configure: an in-memory embedded database, a simulated
app writing analytics_logs by the live weights, the real engine walking D1 → D2 with approvals
by two simulated admins (alice, bob), then a Runware fault. Every message the Slack bot would
post is printed here. Nothing is sent to Slack or to any real database.

Options:
  --fault <kind>      which Runware fault to inject (default ${DEFAULTS.fault}):
${faults}
  --size <number>     how bad the fault is, in the unit above
  --onset <duration>  when the fault starts after D2 starts, like 30s, 2m, 1h (default ${DEFAULTS.onset})
  --rate <n>          requests per second of the simulated app, 2 to 50 (default ${DEFAULTS.rate})
  --speed <n|max>     time compression: simulated seconds per wall second, 1 to 3600; the plan's
                      soaks are divided by it too (default ${DEFAULTS.speed}: D1's 1h soak lasts 1m of
                      simulated time). "max": as fast as this machine goes, soaks of a few seconds
  --seed <n>          random seed of the traffic (default ${DEFAULTS.seed}); same seed, same run
  --charts <dir|none> folder for the charts the bot would post in Slack (stage reports, alerts),
                      created if missing; their paths are listed at the end (default: a new
                      temporary folder); "none": no charts
  --help              this text

Red lines, windows, \`for\` and the 30 s evaluation are the seed plan's own. A fault too small
to cross a red line ends the demo 90 simulated minutes after its start, with no rollback.
Exit code: 0 the demo ran to its end, 1 it failed, 2 an option is wrong.`;
}

const fail = (message: string): never => {
  throw new DemoOptionError(message);
};

function number(name: string, raw: string, min: number, max: number, what: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n))
    fail(`--${name} ${JSON.stringify(raw)}: not a number; give ${what}, e.g. --${name} ${min === 0 ? 1 : min}`);
  if (n < min || n > max) fail(`--${name} ${raw}: out of range; give ${what} from ${min} to ${max}`);
  return n;
}

/** Parses `--name value` and `--name=value`; every mistake is a DemoOptionError naming the option. */
export function parseOptions(argv: string[]): DemoOptions {
  const raw: Record<string, string> = {};
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m) fail(`${JSON.stringify(arg)}: not an option; options start with --, see --help`);
    const name = m![1];
    if (!['fault', 'size', 'onset', 'rate', 'speed', 'seed', 'charts'].includes(name))
      fail(`--${name}: unknown option; see --help for the list`);
    if (name in raw) fail(`--${name} is given twice; give it once`);
    const value = m![2] ?? argv[++i];
    if (value === undefined || (m![2] === undefined && value.startsWith('--'))) fail(`--${name} needs a value; see --help`);
    raw[name] = value;
  }
  const faultName = raw.fault ?? DEFAULTS.fault;
  const fault = (faultName === 'none' || faultName === 'no_traffic' ? 'no-traffic' : faultName) as FaultKind;
  if (!FAULT_KINDS.includes(fault)) fail(`--fault ${JSON.stringify(faultName)}: unknown fault; use one of ${FAULT_KINDS.join(', ')}`);
  const spec = FAULTS[fault];
  const size =
    raw.size === undefined
      ? spec.defaultSize
      : number('size', raw.size, spec.min, spec.max, `the ${spec.sizeMeaning} for --fault ${fault}`);
  const onsetMs = parseDuration(raw.onset ?? DEFAULTS.onset);
  if (onsetMs === null) fail(`--onset ${JSON.stringify(raw.onset)}: not a duration; write it like 30s, 2m or 1h`);
  if (onsetMs! > 6 * 3_600_000) fail(`--onset ${raw.onset}: too late; give at most 6h (${durationLabel(6 * 3_600_000)})`);
  const rate =
    raw.rate === undefined
      ? DEFAULTS.rate
      : number('rate', raw.rate, 2, 50, 'requests per second (under 2, 10% of them at D1 cannot reach minSamples 50 in the 5m window)');
  let speed: number | null = DEFAULTS.speed;
  if (raw.speed !== undefined)
    speed = raw.speed === 'max' ? null : number('speed', raw.speed, 1, 3600, 'simulated seconds per wall second, or "max",');
  const seed = raw.seed === undefined ? DEFAULTS.seed : number('seed', raw.seed, 0, 2 ** 32 - 1, 'a whole number');
  if (!Number.isInteger(seed)) fail(`--seed ${raw.seed}: must be a whole number`);
  if (raw.charts !== undefined && raw.charts.trim() === '') fail('--charts needs a folder, or "none" for no charts');
  const charts = raw.charts === undefined ? null : raw.charts === 'none' ? false : raw.charts;
  return { fault, size, onsetMs: onsetMs!, rate, speed, seed, charts, help };
}
