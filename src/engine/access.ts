import type { Actor } from '../core/views.ts';

/** Who may change the rollout (and run backtests). Everyone may read status, history and help. */
export interface AccessPolicy {
  isAdmin(actor: Actor): boolean;
  describe(): string;
}

/**
 * Admins by ID (Slack user IDs, or local names for the console and CLI), never by display name.
 * An empty list means "everyone" only where the person is already at the machine (console, CLI).
 */
export function adminList(ids: string[]): AccessPolicy {
  const admins = new Set(ids);
  return {
    isAdmin: (actor) => admins.has(actor.id) || actor.via === 'guard' || (admins.size === 0 && (actor.via === 'console' || actor.via === 'cli' || actor.via === 'demo')),
    describe: () => (admins.size ? `admins: ${[...admins].join(', ')}` : 'no ROLLOUT_ADMINS: every local console/CLI user is an admin'),
  };
}
