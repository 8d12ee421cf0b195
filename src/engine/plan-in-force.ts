import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { isActiveStage } from '../core/state-machine.ts';
import type { RunView } from '../core/views.ts';
import { parsePlan, type Plan } from '../plan/plan.ts';
import { planDifferences, type PlanDifference } from '../plan/plan-diff.ts';
import { withTransaction, type Queryable } from '../db/database.ts';
import type pg from 'pg';
import * as store from '../db/store.ts';
import type { Logger } from '../log.ts';

/** What the plan in force is, for /metrics and status: this replica's own, or the run's that differs from it. */
export interface PlanFollowed {
  /** The run whose stored plan is followed because it differs from this replica's; null when following its own. */
  runId: number | null;
  /** Keys on which the run's plan differs from this replica's ROLLOUT_PLAN (empty when following its own). */
  differing: string[];
}

/** At most this many differences are named in the channel; the log has them all. */
const SHOWN = 20;

/**
 * One plan per run, whatever each replica was started with. A run is judged by the plan stored
 * with it (rollout.runs.plan) while it is in progress; between runs, and for the next run, a
 * replica uses its own (ROLLOUT_PLAN). Each reader of the latest run asks `follow` for the plan
 * that goes with it; `current` is the last answer, which is what `deps.plan` returns.
 *
 * A replica whose plan differs from the run's says so once per run: in its log, and once in the
 * channel across all replicas with the same plan (an outbox row with a dedupe key), from
 * `announce`, which runs outside any transaction.
 */
export class PlanInForce {
  current: Plan;
  private stored: { runId: number; plan: Plan | null; differences: PlanDifference[] } | null = null;
  private followed: PlanFollowed = { runId: null, differing: [] };
  private announced = new Set<number>();
  private readonly replica = `${hostname()}:${process.pid}`;

  constructor(
    readonly own: Plan,
    private readonly log?: Logger,
  ) {
    this.current = own;
  }

  get state(): PlanFollowed {
    return this.followed;
  }

  /**
   * The plan for this run: its stored one while it is in progress and differs from this replica's,
   * else this replica's own. Reads the stored document once per run (one row by primary key).
   */
  async follow(q: Queryable, run: RunView | null): Promise<Plan> {
    const stored = run ? await this.storedPlan(q, run) : null;
    const inProgress = !!run && !!stored?.plan && isActiveStage(stored.plan, run.state);
    if (inProgress && stored!.differences.length) {
      this.current = stored!.plan!;
      this.followed = { runId: run!.id, differing: stored!.differences.map((d) => d.key) };
    } else {
      this.current = this.own;
      this.followed = { runId: null, differing: [] };
    }
    return this.current;
  }

  /** Says once per run that this replica's plan differs from the one it follows: the log, and the channel via the outbox. */
  async announce(pool: pg.Pool, run: RunView | null, now: Date): Promise<void> {
    const runId = this.followed.runId;
    if (runId === null || !run || run.id !== runId || this.announced.has(runId)) return;
    const differences = this.stored!.differences;
    this.log?.warn(
      `this replica's plan (ROLLOUT_PLAN) differs from the plan stored with rollout #${runId}; following the stored plan until the run ends`,
      { run: runId, differing: differences.map((d) => `${d.key}: run ${JSON.stringify(d.a)}, this replica ${JSON.stringify(d.b)}`) },
    );
    const event = {
      kind: 'plan_differs' as const,
      runId,
      stage: run.state,
      replica: this.replica,
      differences: differences.slice(0, SHOWN).map((d) => ({ key: d.key, run: d.a, replica: d.b })),
      at: now.toISOString(),
    };
    // Replicas started with the same plan say it once between them; another plan is another message.
    const key = `plan_differs:${runId}:${fingerprint(differences)}`;
    await withTransaction(pool, async (c) => {
      if (!(await store.enqueueOnce(c, now, runId, event, key))) return;
      await store.audit(c, {
        at: now,
        runId,
        actor: 'guard',
        via: 'guard',
        action: 'plan_differs',
        outcome: 'alert',
        detail: { replica: this.replica, differing: differences.map((d) => d.key) },
      });
    });
    this.announced.add(runId);
  }

  private async storedPlan(q: Queryable, run: RunView) {
    if (this.stored?.runId === run.id) return this.stored;
    const document = await store.runPlanDocument(q, run.id);
    let plan: Plan | null = null;
    if (document !== null) {
      try {
        plan = parsePlan(document, `the plan stored with rollout #${run.id}`);
      } catch (err) {
        this.log?.warn(`${(err as Error).message}; judging rollout #${run.id} by this replica's own plan`);
      }
    }
    this.stored = { runId: run.id, plan, differences: plan ? planDifferences(plan, this.own) : [] };
    return this.stored;
  }
}

/** The differing keys with this replica's values: the same for every replica started with the same plan. */
const fingerprint = (differences: PlanDifference[]) =>
  createHash('sha256')
    .update(differences.map((d) => `${d.key}=${JSON.stringify(d.b) ?? 'none'}`).join(';'))
    .digest('hex')
    .slice(0, 16);
