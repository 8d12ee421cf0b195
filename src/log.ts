import { pino, stdTimeFunctions } from 'pino';

/**
 * The project's logger: one event per line on stderr, as text for people or JSON for a log
 * pipeline (LOG_FORMAT). Never pass tokens, secrets or URLs with passwords; if one slips in
 * anyway, every line is masked before it is written.
 */
export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose every line carries this context (component, runId, stage, requestId, user). */
  child(context: LogContext): Logger;
}

/** The context a pipeline filters on; any other field may be added. */
interface LogContext {
  component?: string;
  runId?: number | null;
  stage?: string;
  requestId?: number | null;
  /** Slack user ID (or local user name) who acted. */
  user?: string;
  [field: string]: unknown;
}

type LogFields = LogContext & {
  /** An Error is logged as its message, with its code (Postgres SQLSTATE, Slack, Node) as `code`. */
  error?: unknown;
};

export type LogLevel = 'info' | 'warn' | 'error' | 'silent';
export type LogFormat = 'text' | 'json';

const SECRET = /(xox[abpr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|(?<=:\/\/[^:/@\s]+:)[^@\s]+(?=@))/g;

/** Belt and braces: whatever slips into a log line, tokens and URL passwords are masked. */
export const redact = (text: string) => text.replace(SECRET, '***');

/** Fields that hold secrets by name are censored before serialization, at any depth we log. */
const SECRET_FIELDS = ['token', 'botToken', 'appToken', 'signingSecret', 'password', 'authorization', 'databaseUrl', 'metricsDatabaseUrl'];
const REDACT_PATHS = [...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`)];

/** Where lines go: stderr by default; tests pass their own. */
interface LineSink {
  write(line: string): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Unset: text when the sink is a terminal (stderr by default), JSON otherwise. */
  format?: LogFormat;
  sink?: LineSink & { isTTY?: boolean };
}

const defaultFormat = (sink: { isTTY?: boolean }): LogFormat => (sink.isTTY ? 'text' : 'json');

/** pino behind our interface; the sink sees each line already masked. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const sink = opts.sink ?? process.stderr;
  const format = opts.format ?? defaultFormat(sink);
  const destination = { write: (line: string) => void sink.write(redact(format === 'json' ? line : toText(line))) };
  const root = pino(
    {
      level: opts.level ?? 'info',
      base: undefined,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '***' },
    },
    destination,
  );
  return wrap(root);
}

function wrap(p: pino.Logger): Logger {
  const at = (lvl: 'info' | 'warn' | 'error') => (msg: string, fields?: LogFields) =>
    fields ? p[lvl](normalize(fields), msg) : p[lvl](msg);
  return { info: at('info'), warn: at('warn'), error: at('error'), child: (context) => wrap(p.child(normalize(context))) };
}

/** Errors become their message and code; undefined context is dropped, so lines stay short. */
function normalize(fields: LogFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (v instanceof Error) {
      out[k] = v.message;
      const code = (v as { code?: unknown }).code;
      if (code !== undefined && out.code === undefined) out.code = String(code);
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** The human format: `2026-11-28T10:00:00.000Z INFO msg {"component":"guard",...}`. */
function toText(line: string): string {
  const { time, level, msg, ...fields } = JSON.parse(line) as Record<string, unknown>;
  const extra = Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
  return `${time} ${String(level).toUpperCase()} ${msg}${extra}\n`;
}

/** The logger `npm start` uses. Kept under its old name for callers that only set the level. */
export const stderrLogger = (level: LogLevel = 'info', format?: LogFormat): Logger => createLogger({ level, format });

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, child: () => silentLogger };
