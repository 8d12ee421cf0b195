import type { HealthReading } from '../core/health.ts';
import type { RolloutEvent } from '../core/events.ts';
import type { LineEvaluation } from '../core/red-lines.ts';
import type { ReplicaAnswer } from '../core/outage.ts';
import type { RedLineName } from '../plan/plan.ts';
import type { ChartSpec } from '../render/charts/palette.ts';

/*
 * What the engine runs on, declared by the engine: adapters (src/adapters) and front ends
 * (src/slack, the console) implement these, and app.ts wires them in. The engine imports nothing
 * from those layers; dependency-cruiser checks it (.dependency-cruiser.cjs).
 */

/** The generation app's health endpoint (adapters/health-endpoint.ts): read defensively, never throws. */
export interface HealthSource {
  read(): Promise<HealthReading>;
}

/** Chart spec → PNG (adapters/chart-png.ts). */
export interface ChartRenderer {
  /** On the caller's thread: the console's and CLI's `chart`, which wait for it anyway. */
  png(spec: ChartSpec): Buffer;
  /** Rasterised off the event loop: the bot's own process, where the guard and Bolt share it. */
  pngAsync(spec: ChartSpec): Promise<Buffer>;
}

/** What one guard cycle did (engine/guard.ts). */
export type GuardResult =
  | { kind: 'idle' }
  | { kind: 'raced' }
  | { kind: 'evaluated'; evaluations: LineEvaluation[]; breachesStarted: RedLineName[] }
  | { kind: 'rolled_back'; line: LineEvaluation; breachesStarted: RedLineName[] }
  | { kind: 'adopted_manual_rollback' };

/** Told what the loops did (adapters/metrics.ts counts it for Prometheus). */
export interface EngineObserver {
  /** One guard cycle on the leader: its result (null when it failed) and how long it took. */
  observeGuard(result: GuardResult | null, seconds: number): void;
  /** A query or connection that failed, by what the bot was doing. */
  databaseError(during: string, err: unknown): void;
}

/**
 * The other replicas, asked over HTTP when the database is gone (adapters/peers.ts): their
 * GET /healthz says whether they reach it. Null when a peer does not answer in time or is not a
 * replica; never throws.
 */
export interface PeerLink {
  ask(url: string): Promise<ReplicaAnswer | null>;
}

/** A front end that shows events: the console prints them, Slack posts them. */
export interface EventSink {
  deliver(event: RolloutEvent, meta: { id: number; createdAt: Date }): Promise<void>;
  /** Out-of-band notices that cannot wait for the database (it may be the thing that is down). */
  notice(text: string): Promise<void>;
}

/** A delivery that failed and should be retried later; retryAfterMs from the service when it said (429). */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }
}
