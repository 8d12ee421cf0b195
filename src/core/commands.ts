import type { Plan } from '../plan/plan.ts';
import { parseDuration } from '../plan/duration.ts';

export type Command =
  | { kind: 'status' }
  | { kind: 'help' }
  | { kind: 'history'; limit: number }
  /** expect: from a Request button made for one run and stage; refused if the rollout moved on. */
  | { kind: 'promote'; stage: string; force: boolean; expect?: { run: number; stage: string } }
  | { kind: 'approve'; requestId: number | null }
  | { kind: 'reject'; requestId: number | null; reason: string | null }
  /** expect: from a button or form made for one run and stage; refused if the rollout moved on. */
  | { kind: 'rollback'; reason: string | null; expect?: { run: number; stage: string } }
  | { kind: 'complete' }
  | { kind: 'backtest'; sinceMs: number }
  | { kind: 'chart'; sinceMs: number | null; out: string | null };

/**
 * Commands that only read: the CLI runs them on a database the bot has never started on (a
 * rehearsal on production's read replica), where there is no run, no request and no audit yet.
 */
export function isReadOnly(command: Command): boolean {
  return ['status', 'help', 'history', 'backtest', 'chart'].includes(command.kind);
}

export type Parsed = { ok: true; command: Command } | { ok: false; problem: string };

const MAX_COMMAND_LENGTH = 500;
export const MAX_REASON_LENGTH = 300;

// Control characters other than plain spaces carry no meaning in a command; refusing them
// beats guessing (a pasted ANSI sequence or NUL in the audit log helps no one).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** A reason typed into a form (rollback, reject): null when it is fine, else what is wrong. */
export function reasonProblem(reason: string | null, required: boolean): string | null {
  const text = reason?.trim() ?? '';
  if (!text) return required ? 'Say why: the reason goes into the audit log and the alert.' : null;
  if (text.length > MAX_REASON_LENGTH) return `The reason is ${text.length} characters long; the limit is ${MAX_REASON_LENGTH}.`;
  if (CONTROL.test(text)) return 'The reason contains control or invisible characters; type it again as plain text.';
  return null;
}

export function parseCommand(plan: Plan, input: string): Parsed {
  if (input.length > MAX_COMMAND_LENGTH)
    return { ok: false, problem: `the command is ${input.length} characters long; the limit is ${MAX_COMMAND_LENGTH}` };
  if (CONTROL.test(input))
    return { ok: false, problem: 'the command contains control or invisible characters; type it again as plain text' };
  const text = input.replace(/[\t\r\n\u00a0]/g, ' ').trim();
  const [head = '', ...rest] = text.split(/ +/);
  const word = head.toLowerCase();
  const args = rest;
  const lowerArgs = args.map((a) => a.toLowerCase());
  const reasonOf = (parts: string[]) => {
    const reason = parts
      .join(' ')
      .replace(/^["“']|["”']$/g, '')
      .trim();
    return reason ? reason.slice(0, MAX_REASON_LENGTH) : null;
  };
  const noArgs = (command: Command): Parsed =>
    args.length ? { ok: false, problem: `"${word}" takes no arguments (got "${args.join(' ')}")` } : { ok: true, command };

  switch (word) {
    case '':
    case 'status':
      return noArgs({ kind: 'status' });
    case 'help':
      return { ok: true, command: { kind: 'help' } };
    case 'complete':
      return noArgs({ kind: 'complete' });
    case 'history': {
      if (!args.length) return { ok: true, command: { kind: 'history', limit: 10 } };
      const n = Number(args[0]);
      if (args.length > 1 || !Number.isInteger(n) || n < 1 || n > 50)
        return { ok: false, problem: 'history takes an optional count from 1 to 50, like "history 20"' };
      return { ok: true, command: { kind: 'history', limit: n } };
    }
    case 'approve': {
      const id = requestIdOf(args[0]);
      if (args.length > 1 || id === undefined)
        return { ok: false, problem: 'approve takes an optional request number, like "approve" or "approve 12"' };
      return { ok: true, command: { kind: 'approve', requestId: id } };
    }
    case 'reject': {
      const id = requestIdOf(args[0]);
      if (id === undefined) return { ok: true, command: { kind: 'reject', requestId: null, reason: reasonOf(args) } };
      return { ok: true, command: { kind: 'reject', requestId: id, reason: reasonOf(args.slice(1)) } };
    }
    case 'rollback':
      return {
        ok: true,
        command: { kind: 'rollback', reason: reasonOf(args.filter((a, i) => !(i === 0 && a.toLowerCase() === '--reason'))) },
      };
    case 'backtest': {
      const specs = lowerArgs.filter((a) => a !== '--since');
      const spec = specs[0] ?? '24h';
      const days = /^(\d{1,2})d$/.exec(spec);
      const ms = days ? Number(days[1]) * 86_400_000 : parseDuration(spec);
      if (specs.length > 1 || ms === null || ms < 3_600_000 || ms > 30 * 86_400_000) {
        return { ok: false, problem: 'backtest takes how far back to replay, from 1h to 30d, like "backtest 24h" or "backtest 7d"' };
      }
      return { ok: true, command: { kind: 'backtest', sinceMs: ms } };
    }
    case 'chart':
      return parseChart(args);
  }
  if (plan.stages.some((s) => s.name === word)) {
    const unknown = lowerArgs.filter((a) => a !== '--force');
    if (unknown.length) return { ok: false, problem: `"${word}" takes only --force (got "${unknown.join(' ')}")` };
    return { ok: true, command: { kind: 'promote', stage: word, force: lowerArgs.includes('--force') } };
  }
  return { ok: false, problem: `"${clip(head)}" is not a command` };
}

const CHART_USAGE =
  'chart takes an optional span from 30m to 24h and an optional .png file, like "chart", "chart --since 3h" or "chart --out d2.png"';

function parseChart(args: string[]): Parsed {
  let sinceMs: number | null = null;
  let out: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const flag = args[i].toLowerCase();
    const value = args[i + 1];
    if (flag === '--since' && value !== undefined) {
      sinceMs = parseDuration(value.toLowerCase());
      if (sinceMs === null || sinceMs < 30 * 60_000 || sinceMs > 24 * 3_600_000) return { ok: false, problem: CHART_USAGE };
      i++;
    } else if (flag === '--out' && value !== undefined) {
      if (!/\.png$/i.test(value))
        return { ok: false, problem: `the chart is a PNG: give --out a file name ending in .png (got "${clip(value)}")` };
      out = value;
      i++;
    } else return { ok: false, problem: CHART_USAGE };
  }
  return { ok: true, command: { kind: 'chart', sinceMs, out } };
}

/** undefined: not a request number; null: absent. */
function requestIdOf(arg: string | undefined): number | null | undefined {
  if (arg === undefined) return null;
  const m = /^#?(\d{1,12})$/.exec(arg);
  return m ? Number(m[1]) : undefined;
}

const clip = (s: string) => (s.length > 40 ? `${s.slice(0, 40)}…` : s);

export function usage(plan: Plan): string[] {
  const stages = plan.stages.map((s) => s.name).join(' | ');
  return [
    'status — where the rollout is, the flag, health and every red line',
    `${stages} [--force] — request the next stage (needs ${plan.approvals} approval${plan.approvals === 1 ? '' : 's'} from another admin)`,
    'approve [n] / reject [n] [reason] — decide the open request',
    `rollback [reason] — send all traffic back to ${plan.from} now; no approval needed`,
    'complete — end the watch after the last stage',
    'history [n] — the latest audit entries',
    'chart [--since 3h] [--out file.png] — the four red lines as a picture, written to a PNG file',
    'backtest [24h|7d] — replay the red lines over past analytics_logs: when each would have breached and rolled back',
    'help — this text',
  ];
}
