import { backoffMs, type Backoff } from '../core/backoff.ts';

/** Socket Mode reconnection: from 1 s to 60 s, with jitter (the tuning may shorten it). */
export const SOCKET_BACKOFF: Backoff = { minMs: 1_000, maxMs: 60_000 };

/** How long to wait before reconnection attempt `attempt` (1, 2, …), on the one schedule (core/backoff.ts). */
export const backoffDelayMs = (attempt: number, random: () => number, backoff: Backoff = SOCKET_BACKOFF): number =>
  backoffMs(attempt, backoff, random);
