import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { splitStatements } from '../../src/db/migrate.ts';
import { defaultPlan } from '../../src/plan/plan.ts';
import { weightsDescription, weightsText } from '../../src/core/weights.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { insertEvents, steadyTraffic } from '../support/traffic.ts';

// docs/runbook.md is what a person runs without the bot: its SQL must run, and say what the bot writes.
const runbook = readFileSync(new URL('../../docs/runbook.md', import.meta.url), 'utf8');
const sqlBlocks = [...runbook.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]);
const [queries, weightsSql] = sqlBlocks.map(splitStatements);
const plan = defaultPlan();

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.close());
beforeEach(() => db.reset());

describe('docs/runbook.md', () => {
  it('has the five monitoring queries and the weights statement', () => {
    expect(queries).toHaveLength(5);
    expect(weightsSql).toHaveLength(1);
  });

  it('monitoring queries run on an empty table, the voucher rate saying "no data" (NULL), not dividing by zero', async () => {
    const results = [];
    for (const q of queries) results.push((await db.app.query(q)).rows);
    expect(results[3]).toEqual([{ regenerate_voucher_rate_percent: null }]);
    expect(results.map((rows) => rows.length)).toEqual([0, 0, 0, 1, 0]);
  });

  it('monitoring queries give per-provider numbers on live traffic', async () => {
    const end = new Date();
    await steadyTraffic(db.app, { provider: 'fal', end, minutes: 3, perMinute: 90, latencyMs: 4_000, cost: 0.01 });
    await steadyTraffic(db.app, { provider: 'runware', end, minutes: 3, perMinute: 10, latencyMs: 9_000, failureShare: 0.1, cost: 0.02 });
    await insertEvents(db.app, 'voucher_issued', 3, new Date(end.getTime() - 30_000), { reason: 'regenerate' });
    const [p95, failure, cost, voucher, split] = await Promise.all(queries.map(async (q) => (await db.app.query(q)).rows));
    const by = (rows: Record<string, unknown>[], key: string) => Object.fromEntries(rows.map((r) => [r.provider, Number(r[key])]));
    expect(by(p95, 'p95_latency_ms')).toEqual({ fal: 4_000, runware: 9_000 });
    expect(by(failure, 'failure_rate_percent')).toEqual({ fal: 0, runware: 10 });
    expect(by(cost, 'avg_cost_per_image')).toEqual({ fal: 0.01, runware: 0.02 });
    expect(Number(voucher[0].regenerate_voucher_rate_percent)).toBeCloseTo((3 * 100) / (270 + 27), 10);
    expect(by(split, 'percentage')).toEqual({ fal: 90, runware: 10 });
  });

  it('the weights statement and the table of strings write exactly what the bot writes', async () => {
    await db.app.query(weightsSql[0]);
    await db.app.query(weightsSql[0]); // insert or update: twice is fine
    const d1 = plan.stages[0];
    const { rows } = await db.app.query(
      `SELECT flag_value_text, description, flag_value FROM feature_flags WHERE flag_key = 'GEN_PROVIDER_WEIGHTS'`,
    );
    expect(rows).toEqual([
      {
        flag_value_text: weightsText(plan, d1.weights),
        description: weightsDescription(plan, d1.weights, { stage: d1.name }),
        flag_value: false,
      },
    ]);
    const table = [...runbook.matchAll(/^\| (?:D2|D3|automatic rollback|rollback by a person) \| `([^`]+)` \| `([^`]+)` \|$/gm)].map(
      (m) => [m[1], m[2]],
    );
    expect(table).toEqual([
      ...plan.stages.slice(1).map((s) => [weightsText(plan, s.weights), weightsDescription(plan, s.weights, { stage: s.name })]),
      [weightsText(plan, plan.rollbackWeights), weightsDescription(plan, plan.rollbackWeights, 'Rollback')],
      [weightsText(plan, plan.rollbackWeights), weightsDescription(plan, plan.rollbackWeights, 'Manual Rollback')],
    ]);
  });
});
