import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { createLogger, redact, type LogFormat, type LogLevel } from '../../src/log.ts';
import { boltLogger } from '../../src/slack/bolt-logger.ts';

/** A logger writing into an array, as stderr would receive it. */
function capture(format?: LogFormat, level: LogLevel = 'info', isTTY = false) {
  const lines: string[] = [];
  const log = createLogger({ level, format, sink: { isTTY, write: (l) => void lines.push(l) } });
  return { log, lines, json: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const BOT = 'xoxb-1234567890-abcdefABCDEF';
const APP = 'xapp-1-A0123-987654-deadbeef';
const URL_WITH_PASSWORD = 'postgres://rollout_bot:s3cret-pw@db.internal:5432/app';

describe('JSON logs', () => {
  it('one event per line with level, time, component, run, stage, request, user and the error code', () => {
    const { log, lines, json } = capture('json');
    const guard = log.child({ component: 'guard', runId: 7, stage: 'd2' });
    guard.warn('auto-rollback', { redLine: 'p95LatencyMs', value: 9000 });
    log.child({ component: 'slack', user: 'U_ALICE' }).info('command answered', { outcome: 'requested', requestId: 3 });
    log.error('database unavailable', { error: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }) });
    expect(lines).toHaveLength(3);
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    const [a, b, c] = json();
    expect(a).toMatchObject({
      level: 'warn',
      component: 'guard',
      runId: 7,
      stage: 'd2',
      msg: 'auto-rollback',
      redLine: 'p95LatencyMs',
      value: 9000,
    });
    expect(new Date(a.time as string).toISOString()).toBe(a.time);
    expect(b).toMatchObject({ level: 'info', component: 'slack', user: 'U_ALICE', requestId: 3, outcome: 'requested' });
    expect(c).toMatchObject({ level: 'error', error: 'connect ECONNREFUSED 127.0.0.1:5432', code: 'ECONNREFUSED' });
    expect(Object.keys(c)).not.toContain('pid');
  });

  it('never writes a Slack token or a URL password, wherever it hides', () => {
    const { log, lines, json } = capture('json');
    log.info(`connected with ${BOT} and ${APP}`);
    log.warn('cannot open database', { url: URL_WITH_PASSWORD, nested: { detail: `token ${BOT}` } });
    log
      .child({ component: 'config', botToken: 'plain-secret-value' })
      .error('bad config', { signingSecret: 'another-plain-secret', password: 'hunter2' });
    const all = lines.join('');
    for (const secret of [BOT, APP, 's3cret-pw', 'plain-secret-value', 'another-plain-secret', 'hunter2'])
      expect(all).not.toContain(secret);
    expect(all).not.toMatch(/xox[abpr]-|xapp-/);
    const [, second, third] = json();
    expect(second.url).toBe('postgres://rollout_bot:***@db.internal:5432/app');
    expect(third).toMatchObject({ botToken: '***', signingSecret: '***', password: '***' });
  });

  it('respects the level', () => {
    const { log, lines } = capture('json', 'warn');
    log.info('chatter');
    log.warn('worth reading');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['worth reading']);
    const silent = capture('json', 'silent');
    silent.log.error('nothing');
    expect(silent.lines).toEqual([]);
  });
});

describe('text logs', () => {
  it('keep the human format, with the context as JSON, and mask secrets too', () => {
    const { log, lines } = capture('text');
    log.child({ component: 'guard', runId: 2 }).error(`failed with ${BOT}`, { url: URL_WITH_PASSWORD });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ERROR failed with \*\*\* \{"component":"guard","runId":2,"url":"postgres:\/\/rollout_bot:\*\*\*@db\.internal:5432\/app"\}\n$/,
    );
  });

  it('is the default on a terminal; JSON is the default otherwise', () => {
    const tty = capture(undefined, 'info', true);
    tty.log.info('hello');
    expect(tty.lines[0]).toMatch(/ INFO hello\n$/);
    const piped = capture(undefined, 'info', false);
    piped.log.info('hello');
    expect(JSON.parse(piped.lines[0])).toMatchObject({ level: 'info', msg: 'hello' });
  });
});

describe("Bolt's logs", () => {
  it('go through the same logger as component "bolt", masked', () => {
    const { log, json } = capture('json');
    const bolt = boltLogger(log);
    bolt.debug('noise');
    bolt.error('An API error occurred:', Object.assign(new Error(`invalid_auth for ${BOT}`), { code: 'slack_webapi_platform_error' }));
    bolt.warn({ token: APP });
    const lines = json();
    expect(lines.map((l) => [l.level, l.component])).toEqual([
      ['error', 'bolt'],
      ['warn', 'bolt'],
    ]);
    expect(lines[0]).toMatchObject({ msg: 'slack: An API error occurred: invalid_auth for ***', code: 'slack_webapi_platform_error' });
    expect(JSON.stringify(lines)).not.toMatch(/xox[abpr]-|xapp-/);
  });
});

describe('the redact() mask', () => {
  it('masks bot, user and app tokens and URL passwords, and leaves the rest', () => {
    expect(redact(`a ${BOT} b ${APP} c ${URL_WITH_PASSWORD}`)).toBe('a *** b *** c postgres://rollout_bot:***@db.internal:5432/app');
    expect(redact('postgres://rollout_bot@db/app has no password')).toBe('postgres://rollout_bot@db/app has no password');
  });
});

describe('LOG_FORMAT and METRICS_PORT', () => {
  it('are validated with a message that says what to do', () => {
    expect(loadConfig({ LOG_FORMAT: 'JSON' }).logFormat).toBe('json');
    expect(loadConfig({}).logFormat).toBeUndefined();
    expect(() => loadConfig({ LOG_FORMAT: 'yaml' })).toThrow(
      new ConfigError('LOG_FORMAT must be text or json (got "yaml"); unset, it is text in a terminal and json otherwise'),
    );
    expect(loadConfig({}).metricsPort).toBeNull();
    expect(loadConfig({ PORT: '9100' }).metricsPort).toBe(9100);
    expect(loadConfig({ PORT: '3000', METRICS_PORT: '9464' }).metricsPort).toBe(9464);
    expect(() => loadConfig({ METRICS_PORT: '70000' })).toThrow('METRICS_PORT must be a port number from 0 to 65535 (got "70000")');
    expect(() =>
      loadConfig({ METRICS_PORT: '9464', SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', ROLLOUT_CHANNEL: 'C0123' }),
    ).toThrow(/METRICS_PORT is for console mode/);
  });
});
