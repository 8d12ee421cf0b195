import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import { redact, type Logger } from '../log.ts';

/**
 * Bolt and the Web API client log through ours, so their lines get the same token masking.
 * Their debug chatter is dropped.
 */
export function boltLogger(log: Logger): BoltLogger {
  let level = LogLevel.INFO;
  const text = (msg: unknown[]) => redact(msg.map((m) => (typeof m === 'string' ? m : m instanceof Error ? m.message : JSON.stringify(m))).join(' '));
  return {
    debug: () => {},
    info: (...msg) => log.info(`slack: ${text(msg)}`),
    warn: (...msg) => log.warn(`slack: ${text(msg)}`),
    error: (...msg) => log.error(`slack: ${text(msg)}`),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}
