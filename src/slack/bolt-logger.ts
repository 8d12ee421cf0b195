import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import { redact, type Logger } from '../log.ts';

/**
 * Bolt and the Web API client log through ours (component "bolt"), so their lines get the same
 * format and token masking. Their debug chatter is dropped; an Error's code is kept as `code`.
 */
export function boltLogger(parent: Logger): BoltLogger {
  let level = LogLevel.INFO;
  const log = parent.child({ component: 'bolt' });
  const text = (msg: unknown[]) =>
    redact(msg.map((m) => (typeof m === 'string' ? m : m instanceof Error ? m.message : JSON.stringify(m))).join(' '));
  const code = (msg: unknown[]) => {
    const c = (msg.find((m) => m instanceof Error) as { code?: unknown } | undefined)?.code;
    return c === undefined ? undefined : { code: String(c) };
  };
  return {
    debug: () => {},
    info: (...msg) => log.info(`slack: ${text(msg)}`, code(msg)),
    warn: (...msg) => log.warn(`slack: ${text(msg)}`, code(msg)),
    error: (...msg) => log.error(`slack: ${text(msg)}`, code(msg)),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}
