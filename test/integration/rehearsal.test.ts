import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbKind, openTestDatabase, type TestDatabase } from '../support/db.ts';
import { BOT_ROLE } from '../support/global-setup.ts';
import { alice, engine } from '../support/engine.ts';
import { feed } from '../support/traffic.ts';
import { MINUTE } from '../support/clock.ts';

// The engine on a database the bot has never started on (the CLI's rehearsal): it reads the app's
// two tables only, sees no run, and refuses what would write, before touching anything.
let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
  await db.app.query('DROP SCHEMA rollout CASCADE');
  // The bot's role reads the flag through its view in the rollout schema, gone here; a rehearsal's
  // role is granted SELECT on the app's own table instead (as test/real-postgres/break-glass.test.ts shows).
  if (dbKind() === 'postgres') await db.app.query(`GRANT SELECT ON public.feature_flags TO ${BOT_ROLE}`);
});
afterAll(() => db.close());

describe('a rehearsal (no rollout schema)', () => {
  it('shows status and an empty history from analytics_logs and the flag alone', async () => {
    const { service, clock } = engine(db, { rehearsal: true });
    await db.app.query(
      `INSERT INTO feature_flags (flag_key, flag_value, flag_value_text) VALUES ('GEN_PROVIDER_WEIGHTS', true, '{"fal":0.5,"runware":0.5}')`,
    );
    const from = clock.now();
    clock.advance(10 * MINUTE);
    await feed(db.app, from, clock.now(), { perMinute: 20, failureShare: 0.05 }, { perMinute: 20 });
    const status = await service.handle('status', alice);
    expect(status.outcome).toMatchObject({ kind: 'status', status: { run: null, pending: null } });
    const lines = (status.outcome as { status: { lines: { evaluation: { name: string; state: string } }[] } }).status.lines;
    expect(lines.find((l) => l.evaluation.name === 'failureRatePercent')?.evaluation.state).toBe('breach');
    expect(await service.handle('history', alice)).toMatchObject({ outcome: { kind: 'history', entries: [] } });
    expect((await service.handle('backtest 1h', alice)).outcome.kind).toBe('backtest');
  });

  it.each(['d1', 'rollback broken', 'approve 1', 'complete'])('refuses "%s" and writes nothing', async (command) => {
    const { service } = engine(db, { rehearsal: true });
    const flag = await db.app.query('SELECT flag_value_text FROM feature_flags');
    const reply = await service.handle(command, alice);
    expect(reply.outcome).toMatchObject({ kind: 'refused', code: 'not_here' });
    expect((reply.outcome as { message: string }).message).toContain('this database has no rollout schema yet');
    expect((await db.app.query('SELECT flag_value_text FROM feature_flags')).rows).toEqual(flag.rows);
    expect((await db.app.query(`SELECT to_regnamespace('rollout') AS ns`)).rows).toEqual([{ ns: null }]);
  });
});
