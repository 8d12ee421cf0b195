import { readReplicaAnswer } from '../core/outage.ts';
import type { PeerLink } from '../engine/ports.ts';

/**
 * The peer port over HTTP: GET <url>/healthz of another replica, which answers 200 or 503 with a
 * JSON body either way. A peer that does not answer within `timeoutMs` counts as gone. The peer
 * probes its database for up to 2 s before it answers, so the default leaves room for that.
 */
export function httpPeers(timeoutMs = 3_000): PeerLink {
  return {
    async ask(url) {
      try {
        const res = await fetch(new URL('/healthz', url), { signal: AbortSignal.timeout(timeoutMs) });
        return readReplicaAnswer(await res.json());
      } catch {
        return null;
      }
    },
  };
}
