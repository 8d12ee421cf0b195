import type { QueryResultRow } from 'pg';
import type pg from 'pg';
import type { Plan, Weights } from '../plan/plan.ts';
import type { VoucherBaseline } from '../core/judge.ts';
import type { RolloutEvent } from '../core/events.ts';
import type { AuditEntry, GuardView, LocalOrigin, RequestView, RunView } from '../core/views.ts';
import { weightsDescription, weightsText, type FlagRow, type WeightsLabel } from '../core/weights.ts';
import type { Queryable } from './database.ts';

/** Every state change takes this lock first, inside its transaction: one transition at a time. */
const STATE_LOCK = 7_406_211_002;

export async function lockState(client: pg.PoolClient): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [STATE_LOCK]);
}

const toRun = (r: QueryResultRow): RunView => ({
  id: r.id,
  state: r.state,
  startedAt: r.started_at,
  startedBy: r.started_by,
  stageStartedAt: r.stage_started_at,
  writtenWeights: r.written_weights,
  baselineCost: r.baseline_cost,
  baselineNote: r.baseline_note,
  baselineCheckedAt: r.baseline_checked_at ?? null,
  baselineVouchers: r.baseline_vouchers ?? null,
  endedAt: r.ended_at,
  endReason: r.end_reason,
  driftReported: r.drift_reported,
});

const toRequest = (r: QueryResultRow): RequestView => ({
  id: r.id,
  runId: r.run_id,
  fromState: r.from_state,
  toStage: r.to_stage,
  forced: r.forced,
  requestedBy: r.requested_by,
  requestedAt: r.requested_at,
  status: r.status,
  approvals: r.approvals,
  decidedBy: r.decided_by,
  decidedAt: r.decided_at,
  decisionNote: r.decision_note,
});

// Every column but the stored plan document, which only the CLI needs (latestRunPlan).
const RUN_COLUMNS = `id, state, started_at, started_by, stage_started_at, written_weights, baseline_cost, baseline_note,
  baseline_checked_at, baseline_vouchers, ended_at, end_reason, drift_reported`;

/** The latest run: the one that is active, or the one that ended last. Reads one row by the primary key. */
export async function latestRun(q: Queryable): Promise<RunView | null> {
  const { rows } = await q.query(`SELECT ${RUN_COLUMNS} FROM rollout.runs ORDER BY id DESC LIMIT 1`);
  return rows[0] ? toRun(rows[0]) : null;
}

/** The cost baseline a run was judged against. */
export async function runBaseline(q: Queryable, runId: number): Promise<number | null> {
  const { rows } = await q.query('SELECT baseline_cost FROM rollout.runs WHERE id = $1', [runId]);
  return rows[0]?.baseline_cost ?? null;
}

/** The latest run's id, state and the plan document it was started with (null before migration 011). */
export async function latestRunPlan(q: Queryable): Promise<{ id: number; state: string; plan: unknown } | null> {
  const { rows } = await q.query('SELECT id, state, plan FROM rollout.runs ORDER BY id DESC LIMIT 1');
  return rows[0] ? { id: rows[0].id, state: rows[0].state, plan: rows[0].plan } : null;
}

/** The plan document a run was started with (null before migration 011). One row by the primary key. */
export async function runPlanDocument(q: Queryable, runId: number): Promise<unknown> {
  const { rows } = await q.query('SELECT plan FROM rollout.runs WHERE id = $1', [runId]);
  return rows[0]?.plan ?? null;
}

export async function insertRun(
  q: Queryable,
  run: { state: string; at: Date; by: string; weights: Weights; baselineCost: number | null; baselineNote: string; plan: unknown },
): Promise<RunView> {
  const { rows } = await q.query(
    `INSERT INTO rollout.runs (state, started_at, started_by, stage_started_at, written_weights, baseline_cost, baseline_note, plan)
     VALUES ($1, $2, $3, $2, $4, $5, $6, $7) RETURNING ${RUN_COLUMNS}`,
    [run.state, run.at, run.by, JSON.stringify(run.weights), run.baselineCost, run.baselineNote, JSON.stringify(run.plan)],
  );
  return toRun(rows[0]);
}

export async function updateRun(
  q: Queryable,
  id: number,
  patch: Partial<{
    state: string;
    stageStartedAt: Date;
    writtenWeights: Weights;
    endedAt: Date;
    endReason: string;
    driftReported: string | null;
    baselineCost: number | null;
    baselineNote: string;
    baselineCheckedAt: Date;
    baselineVouchers: VoucherBaseline;
  }>,
): Promise<RunView> {
  const columns: Record<string, string> = {
    state: 'state',
    stageStartedAt: 'stage_started_at',
    writtenWeights: 'written_weights',
    endedAt: 'ended_at',
    endReason: 'end_reason',
    driftReported: 'drift_reported',
    baselineCost: 'baseline_cost',
    baselineNote: 'baseline_note',
    baselineCheckedAt: 'baseline_checked_at',
    baselineVouchers: 'baseline_vouchers',
  };
  const keys = Object.keys(patch) as (keyof typeof patch)[];
  const sets = keys.map((k, i) => `${columns[k]} = $${i + 2}`);
  const values = keys.map((k) => (k === 'writtenWeights' || k === 'baselineVouchers' ? JSON.stringify(patch[k]) : patch[k]));
  const { rows } = await q.query(`UPDATE rollout.runs SET ${sets.join(', ')} WHERE id = $1 RETURNING ${RUN_COLUMNS}`, [id, ...values]);
  return toRun(rows[0]);
}

export async function pendingRequest(q: Queryable): Promise<RequestView | null> {
  const { rows } = await q.query(`SELECT * FROM rollout.requests WHERE status = 'pending'`);
  return rows[0] ? toRequest(rows[0]) : null;
}

export async function requestById(q: Queryable, id: number): Promise<RequestView | null> {
  const { rows } = await q.query('SELECT * FROM rollout.requests WHERE id = $1', [id]);
  return rows[0] ? toRequest(rows[0]) : null;
}

export async function insertRequest(
  q: Queryable,
  r: { runId: number | null; fromState: string; toStage: string; forced: boolean; by: string; at: Date },
): Promise<RequestView> {
  const { rows } = await q.query(
    `INSERT INTO rollout.requests (run_id, from_state, to_stage, forced, requested_by, requested_at)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
    [r.runId, r.fromState, r.toStage, r.forced, r.by, r.at],
  );
  return toRequest(rows[0]);
}

export async function updateRequest(
  q: Queryable,
  id: number,
  patch: {
    status?: RequestView['status'];
    approvals?: RequestView['approvals'];
    decidedBy?: string;
    decidedAt?: Date;
    decisionNote?: string | null;
  },
): Promise<RequestView> {
  const { rows } = await q.query(
    `UPDATE rollout.requests SET
       status = COALESCE($2, status), approvals = COALESCE($3::jsonb, approvals),
       decided_by = COALESCE($4, decided_by), decided_at = COALESCE($5, decided_at), decision_note = COALESCE($6, decision_note)
     WHERE id = $1 RETURNING *`,
    [
      id,
      patch.status ?? null,
      patch.approvals ? JSON.stringify(patch.approvals) : null,
      patch.decidedBy ?? null,
      patch.decidedAt ?? null,
      patch.decisionNote ?? null,
    ],
  );
  return toRequest(rows[0]);
}

export interface AuditInput {
  at: Date;
  runId: number | null;
  actor: string;
  via: string;
  /** Console and CLI: the OS user and host the command came from, and any name typed. */
  origin?: LocalOrigin;
  action: string;
  outcome: 'done' | 'refused' | 'alert' | 'error';
  detail?: Record<string, unknown>;
}

export async function audit(q: Queryable, e: AuditInput): Promise<void> {
  await q.query(
    'INSERT INTO rollout.audit (at, run_id, actor, via, action, outcome, detail, os_user, host, claimed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
    [
      e.at,
      e.runId,
      e.actor,
      e.via,
      e.action,
      e.outcome,
      JSON.stringify(e.detail ?? {}),
      e.origin?.osUser ?? null,
      e.origin?.host ?? null,
      e.origin?.claimed ?? null,
    ],
  );
}

export async function recentAudit(q: Queryable, limit: number): Promise<AuditEntry[]> {
  const { rows } = await q.query('SELECT * FROM rollout.audit ORDER BY id DESC LIMIT $1', [limit]);
  return rows.map((r: QueryResultRow) => ({
    id: r.id,
    at: r.at,
    runId: r.run_id,
    actor: r.actor,
    via: r.via,
    action: r.action,
    outcome: r.outcome,
    detail: r.detail,
    origin: r.os_user ? { osUser: r.os_user, host: r.host, claimed: r.claimed } : undefined,
  }));
}

export async function enqueue(q: Queryable, at: Date, runId: number | null, event: RolloutEvent): Promise<void> {
  await q.query('INSERT INTO rollout.outbox (created_at, run_id, kind, payload) VALUES ($1, $2, $3, $4)', [
    at,
    runId,
    event.kind,
    JSON.stringify(event),
  ]);
}

/** Enqueues an event unless one with this key was ever enqueued (by any replica); true when this call did. */
export async function enqueueOnce(q: Queryable, at: Date, runId: number | null, event: RolloutEvent, dedupeKey: string): Promise<boolean> {
  const { rowCount } = await q.query(
    `INSERT INTO rollout.outbox (created_at, run_id, kind, payload, dedupe_key) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING`,
    [at, runId, event.kind, JSON.stringify(event), dedupeKey],
  );
  return rowCount === 1;
}

/** An undelivered outbox row. */
export interface OutboxRow {
  id: number;
  createdAt: Date;
  payload: RolloutEvent;
  attempts: number;
  nextAttemptAt: Date | null;
}

/** The next undelivered events, in id order (the order they must be shown in). */
export async function undeliveredEvents(q: Queryable, limit: number): Promise<OutboxRow[]> {
  const { rows } = await q.query(
    'SELECT id, created_at, payload, attempts, next_attempt_at FROM rollout.outbox WHERE delivered_at IS NULL ORDER BY id LIMIT $1',
    [limit],
  );
  return rows.map((r) => ({
    id: r.id,
    createdAt: r.created_at,
    payload: r.payload,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
  }));
}

export async function eventDelivered(q: Queryable, id: number, at: Date): Promise<void> {
  await q.query('UPDATE rollout.outbox SET delivered_at = $2, attempts = attempts + 1 WHERE id = $1', [id, at]);
}

export async function eventFailed(q: Queryable, id: number, error: string, retryAt: Date): Promise<void> {
  await q.query('UPDATE rollout.outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 WHERE id = $1', [
    id,
    error,
    retryAt,
  ]);
}

/** The run's latest stored report (each report says what changed since the one before). */
export async function latestReport<T>(q: Queryable, runId: number): Promise<T | null> {
  const { rows } = await q.query('SELECT snapshot FROM rollout.reports WHERE run_id = $1 ORDER BY id DESC LIMIT 1', [runId]);
  return (rows[0]?.snapshot as T | undefined) ?? null;
}

export async function saveReport(q: Queryable, runId: number, at: Date, snapshot: unknown): Promise<void> {
  await q.query('INSERT INTO rollout.reports (run_id, at, snapshot) VALUES ($1, $2, $3)', [runId, at, JSON.stringify(snapshot)]);
}

/** Events committed but not yet delivered, and when the oldest was committed. */
export async function outboxBacklog(q: Queryable): Promise<{ depth: number; oldestAt: Date | null }> {
  const { rows } = await q.query('SELECT count(*)::int AS depth, min(created_at) AS oldest FROM rollout.outbox WHERE delivered_at IS NULL');
  return { depth: rows[0].depth, oldestAt: rows[0].oldest ? new Date(rows[0].oldest) : null };
}

/** The flag row, by its unique key. */
export async function readFlagRow(q: Queryable, plan: Plan): Promise<FlagRow | null> {
  const { rows } = await q.query('SELECT flag_value_text, description, updated_at FROM feature_flags WHERE flag_key = $1', [plan.flagKey]);
  return rows[0] ? { flagValueText: rows[0].flag_value_text, description: rows[0].description, updatedAt: rows[0].updated_at } : null;
}

/** The seed's upsert, verbatim in shape: flag_value false, compact JSON, labelled description, updated_at = NOW(). */
export async function writeFlag(q: Queryable, plan: Plan, weights: Weights, label: WeightsLabel): Promise<void> {
  await q.query(
    `INSERT INTO feature_flags (flag_key, flag_value, flag_value_text, description, created_at, updated_at)
     VALUES ($1, false, $2, $3, NOW(), NOW())
     ON CONFLICT (flag_key) DO UPDATE SET
       flag_value_text = EXCLUDED.flag_value_text,
       description = EXCLUDED.description,
       updated_at = NOW()`,
    [plan.flagKey, weightsText(plan, weights), weightsDescription(plan, weights, label)],
  );
}

export async function readGuardState(q: Queryable, runId: number): Promise<GuardView | null> {
  const { rows } = await q.query('SELECT * FROM rollout.guard_state WHERE run_id = $1', [runId]);
  return rows[0] ? { runId, evaluatedAt: rows[0].evaluated_at, clocks: rows[0].clocks, evaluations: rows[0].evaluations } : null;
}

export async function saveGuardState(q: Queryable, row: GuardView): Promise<void> {
  await q.query(
    `INSERT INTO rollout.guard_state (run_id, evaluated_at, clocks, evaluations) VALUES ($1, $2, $3, $4)
     ON CONFLICT (run_id) DO UPDATE SET evaluated_at = EXCLUDED.evaluated_at, clocks = EXCLUDED.clocks, evaluations = EXCLUDED.evaluations`,
    [row.runId, row.evaluatedAt, JSON.stringify(row.clocks), JSON.stringify(row.evaluations)],
  );
}
