import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BotProcess } from '../support/bot-process.ts';
import { createScratchDatabase, dbKind } from '../support/db.ts';
import { FakeSlack } from '../support/fake-slack.ts';
import { FakeSocketMode } from '../support/fake-socket-mode.ts';
import { commandBody } from '../support/slack-requests.ts';

/**
 * `npm start` itself in Socket Mode: the process-wide error policy of src/main.ts, the real
 * logger, and the default timings (1 s backoff floor) on a real process that Slack leaves.
 */
describe('the bot process in Socket Mode', () => {
  let fake: FakeSlack;
  let sm: FakeSocketMode;
  let bot: BotProcess;
  let cleanup: () => Promise<void>;
  let port: number;

  beforeAll(async () => {
    fake = await new FakeSlack().start();
    sm = await new FakeSocketMode().start();
    fake.socketUrl = () => sm.nextUrl();
    let database: Record<string, string>;
    if (dbKind() === 'postgres') {
      const scratch = await createScratchDatabase();
      database = { DATABASE_URL: scratch.url };
      cleanup = scratch.drop;
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'rollout-socket-'));
      database = { ROLLOUT_DATA_DIR: dir };
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
    bot = await BotProcess.start(
      {
        ...database,
        SLACK_BOT_TOKEN: 'xoxb-process-test',
        SLACK_APP_TOKEN: 'xapp-1-A0APP-process-test',
        SLACK_API_URL: fake.apiUrl,
        ROLLOUT_CHANNEL: 'C0ROLLOUT',
        ROLLOUT_ADMINS: 'U_ALICE',
        PORT: '0',
      },
      /Socket Mode connected/,
    );
    port = Number(bot.output.match(/GET \/healthz and \/metrics on port (\d+)/)![1]);
  }, 90_000);

  afterAll(async () => {
    await bot?.kill('SIGTERM');
    await sm.stop();
    await fake.stop();
    await cleanup?.();
  });

  const health = async () => (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as Record<string, unknown>;

  it('outlives a Slack outage that refuses apps.connections.open on reconnect, says so on /healthz, then answers again', async () => {
    expect(await health()).toMatchObject({ ok: true, slack: 'connected' });
    fake.hold('apps.connections.open', { status: 500 });
    sm.closeLive();
    await bot.waitFor(/Socket Mode could not connect \(attempt 2\)/, 20_000);
    expect(await health()).toMatchObject({ ok: true, bot: 'up', database: 'up', slack: 'reconnecting' });
    fake.hold('apps.connections.open', { drop: true });
    const dropped = bot.count(/Socket Mode could not connect/);
    await bot.waitFor(new RegExp(`could not connect \\(attempt ${dropped + 1}\\)`), 20_000);
    fake.release('apps.connections.open');
    await bot.waitFor(/Socket Mode reconnected after [\d.]+ s without Slack/, 30_000);
    expect(await health()).toMatchObject({ ok: true, slack: 'connected' });

    const url = fake.responseUrl();
    await sm.deliver('slash_commands', Object.fromEntries(new URLSearchParams(commandBody('U_ALICE', 'status', url))));
    await fake.until(() => fake.replies.some((r) => r.url === new URL(url).pathname), 'the status reply');
    expect(bot.count(/unhandled promise rejection|uncaught exception/)).toBe(0);
    expect(bot.output).not.toMatch(/xoxb-process|xapp-1-A0APP-process/);
  }, 90_000);
});
