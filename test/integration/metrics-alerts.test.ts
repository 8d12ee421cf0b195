import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse } from 'yaml';
import { rolloutMetrics } from '../../src/adapters/metrics.ts';
import { startMetricsServer } from '../../src/adapters/metrics-server.ts';
import { ACTION } from '../../src/render/blocks/buttons.ts';
import { alice, bob, planWith } from '../support/engine.ts';
import { type Scrape, scrape } from '../support/prometheus.ts';
import { promtool, promtoolChecks } from '../support/promtool.ts';
import { type SlackHarness, slackHarness } from '../support/slack-bot.ts';
import { steadyTraffic } from '../support/traffic.ts';

/**
 * The bot's real /metrics (Bolt's receiver, as Prometheus scrapes it) against what the alerting
 * rules in deploy/prometheus need: `promtool check metrics` finds nothing wrong with the bot's
 * own families, every series and label value the rules read is exported, and the gauges that
 * say "nobody is watching" tell the truth when the guard fails.
 */
let h: SlackHarness;
beforeAll(async () => {
  h = await slackHarness({ plan: planWith({ baselineCostPerImage: 0.04 }) });
});
afterAll(() => h.close());

const at = (hhmm: string) => new Date(`2026-11-28T${hhmm}:00Z`);
const epoch = (iso: string) => Date.parse(iso) / 1000;

async function traffic(end: string, minutes: number, runwareLatencyMs: number) {
  await steadyTraffic(h.db.app, { provider: 'fal', end: at(end), minutes, perMinute: 180, latencyMs: 3_100, cost: 0.04 });
  await steadyTraffic(h.db.app, { provider: 'runware', end: at(end), minutes, perMinute: 20, latencyMs: runwareLatencyMs, cost: 0.036 });
}

async function startD1() {
  await h.command(alice.id, 'd1');
  await h.flush(); // the request's message, with its buttons, reaches Slack
  await h.click(bob.id, ACTION.approve, h.buttonValue(ACTION.approve));
  await h.flush();
}

/**
 * prom-client's default process metrics include three gauges named with `_total` (counts that go
 * up and down), which promtool flags: "non-counter metrics should not have "_total" suffix". They
 * are prom-client's names, not ours, so exactly these three families are dropped before linting;
 * anything else promtool says about the page fails the test.
 */
const PROM_CLIENT_TOTAL_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

async function lint(page: Scrape): Promise<string[]> {
  for (const name of PROM_CLIENT_TOTAL_GAUGES) expect(page.family(name)?.type, name).toBe('GAUGE');
  const theirs = (line: string) => PROM_CLIENT_TOTAL_GAUGES.some((n) => new RegExp(`^(# (HELP|TYPE) )?${n}[ {]`).test(line));
  const { code, output } = await promtool(
    ['check', 'metrics'],
    page.text
      .split('\n')
      .filter((line) => !theirs(line))
      .join('\n'),
  );
  const problems = output.split('\n').filter((l) => l.trim());
  if (problems.length === 0) expect(code).toBe(0);
  return problems;
}

interface Selector {
  family: string;
  matchers: [string, string][];
}

/** Every rollout_* selector in the rules' expressions and annotations' queries, with its exact matchers. */
function selectorsInRules(): Selector[] {
  const file = parse(readFileSync(new URL('../../deploy/prometheus/rollout-bot-rules.yml', import.meta.url), 'utf8'));
  const rules: { expr: string; annotations?: Record<string, string> }[] = file.groups.flatMap((g: { rules: unknown[] }) => g.rules);
  // The expressions, and the queries the annotations run (`printf "…" | query`), not their prose.
  const queries = rules.flatMap((r) => [
    r.expr,
    ...Object.values(r.annotations ?? {}).flatMap((a) =>
      [...a.matchAll(/printf "((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\"/g, '"')),
    ),
  ]);
  const text = queries.join('\n');
  return [...text.matchAll(/\b(rollout_[a-z_]+)(?:\{([^}]*)\})?/g)].map((m) => ({
    family: m[1],
    matchers: [...(m[2] ?? '').matchAll(/(\w+)\s*=\s*"([^"]*)"/g)].map((x) => [x[1], x[2]] as [string, string]),
  }));
}

it('/metrics passes promtool check metrics (where promtool is installed: always in CI) and carries every series the alerting rules read', async () => {
  await h.reset();
  h.setHealth(h.healthReporting({ fal: 1, runware: 0 }));
  const idle = await scrape(h.port);
  expect(idle.value('rollout_stage_active')).toBe(0);
  expect(idle.value('rollout_guard_evaluate_every_seconds')).toBe(30);
  expect(idle.family('rollout_guard_last_evaluation_timestamp_seconds')?.metrics ?? []).toEqual([]);

  await startD1();
  h.setHealth(h.healthReporting({ fal: 0.9, runware: 0.1 }));
  h.clock.set('2026-11-28T10:30:00Z');
  await traffic('10:25', 25, 2_400);
  await traffic('10:30', 5, 9_000);
  h.fake.failNext({ status: 500 }); // the breach alert waits in the outbox
  await h.front.scheduler.tick();
  await h.flush();
  await h.db.app.query(`UPDATE feature_flags SET flag_value_text = '{"fal":0.7,"runware":0.3}' WHERE flag_key = 'GEN_PROVIDER_WEIGHTS'`);
  h.clock.set('2026-11-28T10:31:00Z');

  const breach = await scrape(h.port);
  expect(breach.value('rollout_stage_active')).toBe(1);
  expect(breach.value('rollout_guard_last_evaluation_timestamp_seconds')).toBe(epoch('2026-11-28T10:30:00Z'));
  expect(breach.value('rollout_guard_evaluate_every_seconds')).toBe(30);
  expect(breach.value('rollout_red_line_state', { red_line: 'p95LatencyMs', state: 'breach' })).toBe(1);
  expect(breach.value('rollout_flag_drift')).toBe(1);
  expect(breach.value('rollout_outbox_oldest_age_seconds')).toBe(60);

  h.clock.set('2026-11-28T10:35:00Z');
  await traffic('10:35', 5, 9_000);
  await h.front.scheduler.tick();
  await h.flush();
  const rolledBack = await scrape(h.port);
  expect(rolledBack.value('rollout_stage_info', { stage: 'rolled_back', run: '1' })).toBe(1);
  expect(rolledBack.value('rollout_stage_active')).toBe(0);
  expect(rolledBack.value('rollout_stage_started_timestamp_seconds')).toBe(epoch('2026-11-28T10:35:00Z'));

  if (promtoolChecks) for (const page of [idle, breach, rolledBack]) expect(await lint(page)).toEqual([]);

  const pages = [idle, breach, rolledBack];
  const selectors = selectorsInRules();
  expect(selectors.length).toBeGreaterThan(20);
  const missing = selectors.flatMap(({ family, matchers }) => {
    const exact = matchers.filter(([label]) => label !== 'job' && label !== 'instance');
    const found = pages.some((p) => p.samples(family, Object.fromEntries(exact)).length > 0);
    return found ? [] : [`${family}{${exact.map(([k, v]) => `${k}="${v}"`).join(',')}}`];
  });
  expect(missing, 'series the rules read that the bot never exports').toEqual([]);
});

it('a leader whose guard fails every cycle keeps reporting the rollout, so the guard is seen to stop', async () => {
  await h.reset();
  await startD1();
  await h.front.scheduler.tick(); // evaluates D1 at 10:00:00
  await h.db.app.query(`CREATE FUNCTION rollout.test_refuse_guard_state() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'guard_state refused by the test' USING ERRCODE = '42501'; END $$`);
  await h.db.app.query(`CREATE TRIGGER test_refuse_guard_state BEFORE INSERT OR UPDATE ON rollout.guard_state
    FOR EACH ROW EXECUTE FUNCTION rollout.test_refuse_guard_state()`);
  try {
    h.clock.set('2026-11-28T10:00:30Z');
    expect(await h.front.scheduler.tick()).toBeNull(); // the cycle threw
    // Not a database outage: the lock, just checked, stays held, and so does the flag.
    expect(h.front.scheduler.isLeader).toBe(true);

    const failing = await scrape(h.port);
    expect(failing.value('rollout_leader')).toBe(1);
    expect(failing.value('rollout_database_reachable')).toBe(1);
    expect(failing.value('rollout_stage_active')).toBe(1);
    expect(failing.value('rollout_guard_last_evaluation_timestamp_seconds')).toBe(epoch('2026-11-28T10:00:00Z'));
    expect(failing.text).toContain('rollout_guard_cycle_seconds_count{result="failed"} 1');

    // Minutes of failing cycles later it still leads and says so, and its evaluation grows old:
    // what RolloutGuardNotEvaluated reads.
    h.clock.set('2026-11-28T10:01:30Z');
    expect(await h.front.scheduler.tick()).toBeNull();
    h.clock.set('2026-11-28T10:03:00Z');
    const late = await scrape(h.port);
    expect(late.value('rollout_leader')).toBe(1);
    expect(late.value('rollout_stage_active')).toBe(1);
    expect(late.value('rollout_guard_last_evaluation_timestamp_seconds')).toBe(epoch('2026-11-28T10:00:00Z'));
  } finally {
    await h.db.app.query('DROP TRIGGER test_refuse_guard_state ON rollout.guard_state');
    await h.db.app.query('DROP FUNCTION rollout.test_refuse_guard_state()');
  }

  // A standby that never ran the guard reports none of the gauges the alerts read.
  const standby = await startMetricsServer(rolloutMetrics({ service: h.service, isLeader: () => false }), 0, async () => true);
  try {
    const seen = await scrape(standby.port);
    expect(seen.value('rollout_leader')).toBe(0);
    for (const name of ['rollout_stage_active', 'rollout_guard_evaluate_every_seconds', 'rollout_guard_last_evaluation_timestamp_seconds'])
      expect(seen.family(name)?.metrics ?? [], name).toEqual([]);
  } finally {
    await standby.close();
  }
});
