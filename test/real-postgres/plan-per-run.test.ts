import { afterEach, describe, expect, it } from 'vitest';
import { BotProcess, eventually } from '../support/bot-process.ts';
import { failuresHeldFor, fastPlanFile, one, scratchDatabase, type Scratch } from './harness.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function scratch(): Promise<Scratch> {
  const s = await scratchDatabase();
  cleanup.push(() => s.close());
  return s;
}

async function start(env: Record<string, string>): Promise<BotProcess> {
  const bot = await BotProcess.start(env);
  cleanup.push(() => bot.kill());
  return bot;
}

// Held 5 s: the test waits only for the rollback, so the red line need not be held longer.
const redLines = (failureThreshold: number) => failuresHeldFor('5s', failureThreshold).redLines;

/** The app writing Runware's gen_route rows at the real time, one in five failing. */
function fifthFailing(db: Scratch) {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await db.pool
        .query(
          `INSERT INTO analytics_logs (event_type, event_data, created_at)
           SELECT 'gen_route', jsonb_build_object('provider', 'runware', 'latency_ms', 1200, 'error', CASE WHEN g = 1 THEN 'upstream 500' END, 'cost_per_image', 0.005), now()
           FROM generate_series(1, 5) g`,
        )
        .catch(() => {});
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

async function scrape(bot: BotProcess): Promise<string> {
  const port = (await bot.waitFor(/GET \/metrics and \/healthz on port (\d+)/))[1];
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

describe('two replicas started with different plan files', () => {
  it('both follow the plan stored with the run in progress, the one whose plan differs says so (log, /metrics, once in the channel), and the next run starts with the plan of the replica that starts it', async () => {
    const db = await scratch();
    // A's plan: failures over 2 % are a red line. B's: over 60 %, so by its own plan B would never roll back.
    const env = { DATABASE_URL: db.url, ROLLOUT_USER: 'alice', METRICS_PORT: '0' };
    const a = await start({ ...env, ROLLOUT_PLAN: fastPlanFile({ redLines: redLines(2) }) });
    await a.waitFor(/leader: this replica runs the guard/);
    a.send('d1');
    await a.waitFor(/Requested d1/);
    a.send('as bob approve');
    await a.waitFor(/d1 started/);

    // B and a third replica C with B's plan start at once: each says so in its log, but the channel hears it once.
    const planB = fastPlanFile({ redLines: redLines(60) });
    const [b, c] = await Promise.all([start({ ...env, ROLLOUT_PLAN: planB }), start({ ...env, ROLLOUT_PLAN: planB })]);
    await b.waitFor(/differs from the plan stored with rollout #1; following the stored plan until the run ends/);
    expect(b.output).toMatch(/redLines\.failureRatePercent\.threshold: run 2, this replica 60/);
    const metricsB = await scrape(b);
    expect(metricsB).toMatch(/^rollout_plan_differs 1$/m);
    expect(metricsB).toMatch(/^rollout_plan_info\{followed="run",run="1",differing="redLines.failureRatePercent.threshold"\} 1$/m);
    expect(await scrape(a)).toMatch(/^rollout_plan_differs 0$/m);
    await c.waitFor(/differs from the plan stored with rollout #1/);
    await a.waitFor(/\[alert\] Replica .* was started with a plan that differs from the one rollout #1 follows/);
    expect(await one(db.pool, `SELECT count(*)::int AS n FROM rollout.outbox WHERE kind = 'plan_differs'`)).toEqual({ n: 1 });
    await c.kill('SIGTERM');

    // A dies; B leads and judges run #1 by its stored 2 % red line: 20 % failures breach it (not B's own 60 %).
    await a.kill('SIGKILL');
    await b.waitFor(/leader: this replica runs the guard/, 15_000);
    const traffic = fifthFailing(db);
    cleanup.push(() => traffic.stop());
    await eventually(
      () => one<{ state: string }>(db.pool, 'SELECT state FROM rollout.runs WHERE id = 1'),
      (r) => r?.state === 'rolled_back',
      40_000,
      'the auto-rollback by the run’s plan',
    );
    await traffic.stop();
    const rollback = await one<{ detail: { line: { name: string; threshold: number } } }>(
      db.pool,
      `SELECT detail FROM rollout.audit WHERE action = 'rollback'`,
    );
    expect(rollback!.detail.line).toMatchObject({ name: 'failureRatePercent', threshold: 2 });
    // The run ended: B is back on its own plan.
    await eventually(
      () => scrape(b),
      (m) => /^rollout_plan_differs 0$/m.test(m),
      15_000,
      'B back on its own plan',
    );

    // The next run, started on B, stores B's plan, and its audit row names what changed.
    b.send('d1');
    await b.waitFor(/Requested d1/);
    b.send('as bob approve');
    await b.waitFor(/d1 started/);
    const run2 = await one<{ threshold: number }>(
      db.pool,
      `SELECT (plan->'redLines'->'failureRatePercent'->>'threshold')::int AS threshold FROM rollout.runs WHERE id = 2`,
    );
    expect(run2).toEqual({ threshold: 60 });
    const transition = await one<{ detail: { planChanged: unknown } }>(
      db.pool,
      `SELECT detail FROM rollout.audit WHERE action = 'transition' AND run_id = 2`,
    );
    expect(transition!.detail.planChanged).toMatchObject({ since: 1, keys: ['redLines.failureRatePercent.threshold'] });
  });
});
