/** Minimal structured logger on stderr. Never pass tokens, secrets or URLs with passwords. */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const SECRET = /(xox[abpr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|(?<=:\/\/[^:/@\s]+:)[^@\s]+(?=@))/g;

/** Belt and braces: whatever slips into a log line, tokens and URL passwords are masked. */
export const redact = (text: string) => text.replace(SECRET, '***');

export function stderrLogger(level: 'info' | 'warn' | 'error' | 'silent' = 'info'): Logger {
  const order = { info: 0, warn: 1, error: 2, silent: 3 };
  const write = (lvl: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => {
    if (order[lvl] < order[level]) return;
    const extra = fields && Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
    process.stderr.write(redact(`${new Date().toISOString()} ${lvl.toUpperCase()} ${msg}${extra}`) + '\n');
  };
  return { info: (m, f) => write('info', m, f), warn: (m, f) => write('warn', m, f), error: (m, f) => write('error', m, f) };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
