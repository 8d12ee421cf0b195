/**
 * How long to wait before reconnection attempt `attempt` (1, 2, …): doubling from `minMs`, capped
 * at `maxMs`, with "equal jitter" (half fixed, half random) so replicas that lost Slack together
 * do not knock on its door in step. Never gives up: a long outage just waits `maxMs`-ish between tries.
 */
export interface Backoff {
  minMs: number;
  maxMs: number;
}

export const SOCKET_BACKOFF: Backoff = { minMs: 1_000, maxMs: 60_000 };

export function backoffDelayMs(attempt: number, random: () => number, { minMs, maxMs }: Backoff = SOCKET_BACKOFF): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30);
  const ceiling = Math.min(maxMs, minMs * 2 ** exponent);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
