import { ConfigError, loadConfig, loadPlan } from '../config.ts';
import { isReadOnly, parseCommand, usage } from '../core/commands.ts';
import type { Outcome } from '../core/outcomes.ts';
import { PlanError } from '../plan/plan.ts';
import { openEngine, StartupError } from '../app.ts';
import { stderrLogger } from '../log.ts';
import { localActor } from '../engine/access.ts';
import { renderOutcome } from '../render/text.ts';

const HELP = `Usage: npx rollout <command> [--as USER] [--reason TEXT] [--force]
The break-glass path when chat is down: the same commands, locks and audit as Slack.
  npx rollout status
  npx rollout rollback --reason "Runware 5xx in eu-west"
  npx rollout d2 --as alice
  npx rollout approve 12 --as bob
  npx rollout history 20
  npx rollout backtest --since 7d    (replays the red lines over history; 24h by default)
  npx rollout chart [--since 3h] [--out file.png]   (the red lines as a PNG; the stage so far by default)
Who you are: the OS user and host, recorded in every audit row. --as (or ROLLOUT_USER) names
someone else only in trial mode (no ROLLOUT_ADMINS); with ROLLOUT_ADMINS set it is recorded,
never trusted, and approvals belong in Slack. status, history, rollback and backtest always work.
It never migrates, and acts on the plan stored with the run in progress. Alerts it causes are
queued in the database and posted by the running bot. Rehearsing: status, history, backtest and
chart also work where the bot has never run (production's read replica; SELECT on analytics_logs
and feature_flags is enough).`;

/** Turns argv into the command text the core parses, so the CLI has no grammar of its own. */
export function argvToCommand(argv: string[]): { text: string; as: string | null } {
  const words: string[] = [];
  let as: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--as') as = argv[++i] ?? null;
    else if (a.startsWith('--as=')) as = a.slice(5);
    else if (a === '--reason') words.push(argv[++i] ?? '');
    else if (a.startsWith('--reason=')) words.push(a.slice(9));
    else words.push(a);
  }
  return { text: words.join(' '), as };
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (!argv.length || argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(`${HELP}\n`);
    return argv.length ? 0 : 2;
  }
  const config = loadConfig(process.env);
  const { text, as } = argvToCommand(argv);
  // help and a mistyped command need no database: answered from the local plan, before connecting.
  const parsed = parseCommand(loadPlan(config.planPath), text);
  if (!parsed.ok || parsed.command.kind === 'help') {
    const plan = loadPlan(config.planPath);
    const outcome: Outcome = parsed.ok
      ? { kind: 'help', lines: usage(plan) }
      : { kind: 'usage', problem: parsed.problem, lines: usage(plan) };
    process.stdout.write(`${renderOutcome(plan, outcome)}\n`);
    return parsed.ok ? 0 : 2;
  }
  // Break-glass: no migrations, the run's own plan; only warnings reach stderr. A command that
  // only reads also works where the bot has never run (a rehearsal on production's replica).
  const { service, db } = await openEngine(config, {
    log: stderrLogger('warn', 'text'),
    breakGlass: true,
    readOnly: isReadOnly(parsed.command),
  });
  try {
    const progress = (done: number, total: number) => process.stderr.write(`backtest: ${done} of ${total} chunks of history read\n`);
    const reply = await service.handle(text, localActor('cli', config.origin, as ?? config.localUser), { progress });
    process.stdout.write(`${renderOutcome(service.plan, reply.outcome)}\n`);
    const k = reply.outcome.kind;
    return k === 'usage' ? 2 : k === 'refused' || k === 'unavailable' || k === 'error' ? 1 : 0;
  } finally {
    await db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    const known = err instanceof ConfigError || err instanceof PlanError || err instanceof StartupError;
    process.stderr.write(`rollout: ${known ? err.message : (err as Error).stack}\n`);
    process.exit(1);
  },
);
