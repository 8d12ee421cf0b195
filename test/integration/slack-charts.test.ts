import { PNG } from 'pngjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { alice, bob, carol, planWith } from '../support/engine.ts';
import { steadyTraffic } from '../support/traffic.ts';
import { CHANNEL, slackHarness, type SlackHarness } from '../support/slack-bot.ts';

/**
 * Charts in Slack through the real sink, the chart queue and @slack/web-api's files.uploadV2
 * against the stand-in Slack (getUploadURLExternal → POST of the bytes → completeUploadExternal).
 */
let h: SlackHarness;
beforeAll(async () => {
  h = await slackHarness({ plan: planWith({ baselineCostPerImage: 0.04 }), charts: true });
});
afterAll(() => h.close());

const at = (hhmm: string) => new Date(`2026-11-28T${hhmm}:00Z`);

async function traffic(end: string, minutes: number, runwareShare: number, runwareLatencyMs = 2_400) {
  const runware = Math.round(100 * runwareShare);
  await steadyTraffic(h.db.app, { provider: 'fal', end: at(end), minutes, perMinute: 100 - runware, latencyMs: 3_100, cost: 0.04 });
  await steadyTraffic(h.db.app, {
    provider: 'runware',
    end: at(end),
    minutes,
    perMinute: runware,
    latencyMs: runwareLatencyMs,
    cost: 0.036,
  });
}

/** Delivers the outbox, then lets the chart queue run. */
async function deliver() {
  await h.flush();
  await h.front.charts!.flush();
}

const calls = (method: string) => h.fake.calls.map((c, i) => ({ ...c, i })).filter((c) => c.method === method);
/** The fake numbers message ts by post: the k-th chat.postMessage got …00000k. */
const postIndexOf = (ts: string) => calls('chat.postMessage')[Number(ts.split('.')[1]) - 1].i;
const messageTs = async (key: string) =>
  (await h.db.app.query('SELECT ts FROM rollout.slack_messages WHERE key = $1', [key])).rows[0].ts as string;
const jobs = async () =>
  (
    await h.db.app.query(
      'SELECT key, thread_ts, attempts, last_error, file_id, done_at, next_attempt_at FROM rollout.chart_jobs ORDER BY id',
    )
  ).rows;
const outboxId = async (kind: string) =>
  (await h.db.app.query(`SELECT id FROM rollout.outbox WHERE payload->>'kind' = $1 ORDER BY id DESC LIMIT 1`, [kind])).rows[0].id as number;

/** Every shared chart: where it went and its bytes, decoded. */
function shared() {
  return h.fake.shared.map((s) => {
    const upload = h.fake.uploads.find((u) => u.fileId === s.fileId)!;
    return {
      i: s.call,
      id: s.fileId,
      channel: s.channel,
      threadTs: s.threadTs as string,
      title: s.title,
      png: PNG.sync.read(upload.bytes),
    };
  });
}

it('report, breach and auto-rollback each get a chart after their text, in the right thread; a failed upload waits without holding a message', async () => {
  await h.reset();
  await h.service.handle('d1', alice);
  await h.service.handle('approve', bob);
  await deliver();
  expect(calls('files.getUploadURLExternal')).toHaveLength(0); // requests and checklists get no chart

  // 10:30: the stage report, threaded under the D1 checklist; its chart follows it there.
  h.clock.set('2026-11-28T10:30:00Z');
  await traffic('10:30', 30, 0.1);
  await h.front.scheduler.tick();
  await h.front.scheduler.report();
  await deliver();
  const checklistTs = await messageTs('checklist:1:d1');
  const reportTs = await messageTs(`event:${await outboxId('report')}`);
  let charts = shared();
  expect(charts).toHaveLength(1);
  expect(charts[0]).toMatchObject({ channel: CHANNEL, threadTs: checklistTs, title: 'Stage D1 so far: FAL 90% / Runware 10%' });
  expect([charts[0].png.width, charts[0].png.height]).toEqual([1200, 1000]);
  expect(postIndexOf(reportTs)).toBeLessThan(charts[0].i);
  // The bytes Slack stored are the bytes announced to getUploadURLExternal.
  expect(Number(calls('files.getUploadURLExternal')[0].body.length)).toBe(h.fake.uploads[0].bytes.length);

  // 10:36: p95 breaches. Its chart's first upload fails (500 at getUploadURLExternal).
  h.clock.set('2026-11-28T10:36:00Z');
  await traffic('10:35', 5, 0.1);
  await traffic('10:36', 1, 0.1, 9_000);
  h.fake.failNextOf('files.getUploadURLExternal', { status: 500 });
  await h.front.scheduler.tick();
  await deliver();
  const breachTs = await messageTs(`event:${await outboxId('breach_started')}`);
  expect(calls('chat.postMessage').find((c) => c.i === postIndexOf(breachTs))!.body.text).toContain('p95 latency');
  const waiting = (await jobs()).find((j) => j.thread_ts === breachTs)!;
  expect(waiting).toMatchObject({ attempts: 1, last_error: 'Slack answered HTTP 500', file_id: null, done_at: null });
  expect(shared()).toHaveLength(1);

  // A later message is not held by the waiting chart: a report at the same moment posts at once,
  // and its own chart is shared while the breach chart still waits for its retry.
  const before = h.fake.calls.length;
  await h.front.scheduler.report();
  await deliver();
  const report2Ts = await messageTs(`event:${await outboxId('report')}`);
  expect(postIndexOf(report2Ts)).toBeGreaterThanOrEqual(before);
  charts = shared();
  expect(charts.map((c) => c.threadTs)).toEqual([checklistTs, checklistTs]);
  expect((await jobs()).find((j) => j.thread_ts === breachTs)).toMatchObject({ attempts: 1, done_at: null });

  // 10:41: the breach held 5m: auto-rollback. The breach chart's retry is due and goes through;
  // the rollback ends the breach's episode, whose whole chart replaces the breach chart under it
  // (slack-episode-charts.test.ts); the rollback alert's chart shares once even though its first
  // completeUploadExternal fails.
  h.clock.set('2026-11-28T10:41:00Z');
  await traffic('10:41', 5, 0.1, 9_000);
  h.fake.failNextOf('files.completeUploadExternal', { pass: true }, { pass: true }, { status: 500 });
  await h.front.scheduler.tick();
  await deliver();
  h.clock.set('2026-11-28T10:41:10Z');
  await h.front.charts!.flush();
  const rollbackTs = await messageTs(`event:${await outboxId('auto_rollback')}`);
  charts = shared();
  expect(charts.map((c) => c.threadTs)).toEqual([checklistTs, checklistTs, breachTs, breachTs, rollbackTs]);
  const [, , breachChart, episodeChart, rollbackChart] = charts;
  expect(breachChart.title).toBe('Breach: p95 latency');
  expect(episodeChart.title).toBe('D1: breached once, then rolled back: p95 latency');
  expect(rollbackChart.title).toBe('Automatic rollback: p95 latency');
  expect(calls('files.delete').map((c) => c.body.file)).toEqual([breachChart.id]);
  for (const c of [breachChart, episodeChart, rollbackChart]) expect([c.png.width, c.png.height]).toEqual([1200, 640]);
  expect(postIndexOf(breachTs)).toBeLessThan(breachChart.i);
  expect(postIndexOf(rollbackTs)).toBeLessThan(rollbackChart.i);

  // Every job done once, each with its own file (the replaced breach chart's is gone); the failed tries left no second share.
  const done = await jobs();
  expect(done.map((j) => [j.thread_ts, j.attempts, j.done_at !== null])).toEqual([
    [checklistTs, 1, true],
    [breachTs, 2, true],
    [checklistTs, 1, true],
    [breachTs, 1, true],
    [rollbackTs, 2, true],
  ]);
  expect(done[1].file_id).toBeNull();
  expect(new Set(done.map((j) => j.file_id).filter(Boolean)).size).toBe(4);
  expect(calls('files.completeUploadExternal').filter((c) => c.body.thread_ts === rollbackTs)).toHaveLength(2); // one refused, one shared

  // The alert's delivery retried (after a failure past its post) records no second chart.
  const id = await outboxId('auto_rollback');
  const { rows } = await h.db.app.query('SELECT payload, created_at FROM rollout.outbox WHERE id = $1', [id]);
  await h.front.sink.deliver(rows[0].payload, { id, createdAt: rows[0].created_at });
  await h.front.charts!.flush();
  expect(await jobs()).toHaveLength(5);
  expect(shared()).toHaveLength(5);
});

it('a manual rollback gets a chart of the red line in breach; a backtest answered in the channel gets its replay', async () => {
  await h.reset();
  await h.service.handle('d1', alice);
  await h.service.handle('approve', bob);
  h.clock.set('2026-11-28T10:36:00Z');
  await traffic('10:35', 35, 0.1);
  await traffic('10:36', 1, 0.1, 9_000);
  await h.front.scheduler.tick();
  await deliver();
  h.clock.set('2026-11-28T10:37:00Z');
  await traffic('10:37', 1, 0.1, 9_000);
  await h.service.handle('rollback Runware is slow', carol);
  await deliver();
  const rollbackTs = await messageTs(`event:${await outboxId('manual_rollback')}`);
  const manual = shared().find((c) => c.threadTs === rollbackTs)!;
  expect(manual.title).toBe('Manual rollback: p95 latency');
  expect([manual.png.width, manual.png.height]).toEqual([1200, 640]);

  h.fake.clear();
  await h.command(alice.id, 'backtest 1h');
  await h.front.charts!.flush();
  const posts = calls('chat.postMessage');
  const root = posts.findIndex((c) => !c.body.thread_ts);
  const [replay] = shared();
  expect(replay.threadTs).toBe(`1764324000.${String(root + 1).padStart(6, '0')}`);
  expect(replay.title).toMatch(/^Backtest over 1h: /);
  expect([replay.png.width, replay.png.height]).toEqual([1200, 1000]);
  expect(replay.i).toBeGreaterThan(posts[root].i);
});
