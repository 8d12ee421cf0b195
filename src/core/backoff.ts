/** Bounds of a retry schedule. */
export interface Backoff {
  minMs: number;
  maxMs: number;
}

/**
 * The one retry schedule (the outbox, chart uploads, Socket Mode reconnection): `minMs` after the
 * first failure, doubling with each one after it, capped at `maxMs`; never gives up. With
 * `random`, "equal jitter" (half fixed, half random), so replicas that failed together do not
 * knock on the same door in step.
 */
export function backoffMs(failures: number, { minMs, maxMs }: Backoff, random?: () => number): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return random ? Math.round(ceiling / 2 + random() * (ceiling / 2)) : ceiling;
}
