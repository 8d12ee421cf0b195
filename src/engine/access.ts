import type { Command } from '../core/commands.ts';
import type { Actor } from '../core/views.ts';

/**
 * A console or CLI user: the OS user and host as the machine reports them, and the name typed
 * (`--as`, `as <user>`, ROLLOUT_USER) as a claim next to them. Acts under the claimed name only
 * in trial mode (see adminList); the audit keeps all three either way.
 */
export function localActor(via: 'console' | 'cli', origin: { osUser: string; host: string }, typed: string | null): Actor {
  const claimed = typed?.trim() && typed.trim() !== origin.osUser ? typed.trim() : null;
  return { id: claimed ?? origin.osUser, via, origin: { ...origin, claimed } };
}

/** Who may do what. Everyone may read status, history and help. */
export interface AccessPolicy {
  /** null when allowed; otherwise why not, in words for the person who asked. */
  refusal(actor: Actor, command: Command): string | null;
  isAdmin(actor: Actor): boolean;
  describe(): string;
}

const READ_ONLY = new Set<Command['kind']>(['status', 'help', 'history', 'chart']);
/** The break-glass path: anyone who can reach the database from the CLI or console may stop the rollout. */
const BREAK_GLASS = new Set<Command['kind']>(['rollback', 'backtest']);

/** A Slack user ID (U…/W…). A local account with such a name is never taken for the Slack user. */
const SLACK_ID = /^[UW][A-Z0-9]{2,}$/;

const isLocal = (actor: Actor) => actor.via === 'console' || actor.via === 'cli';

/**
 * Admins by ID, never by display name. Which identities count (docs/commands.md, "Who is trusted"):
 * - Slack: the user ID from a request Slack signed; an admin when listed.
 * - Console and CLI: nobody verified the name, so with ROLLOUT_ADMINS set only the OS user
 *   counts (a name typed with --as, `as <user>` or ROLLOUT_USER is recorded, never trusted), and
 *   only when listed by a local name: a Slack ID in the list never matches a local account.
 *   Rollback and backtest stay open to every local user (break-glass).
 * - ROLLOUT_ADMINS unset: trial mode on one machine; every local user is an admin under
 *   whatever name they type, so the two-person rule can be rehearsed; in Slack nobody is.
 */
export function adminList(ids: string[]): AccessPolicy {
  const admins = new Set(ids);
  const trial = admins.size === 0;
  const isAdmin = (actor: Actor): boolean => {
    if (actor.via === 'guard' || (actor.via === 'demo' && trial)) return true;
    if (actor.via === 'slack' || actor.via === 'demo') return admins.has(actor.id);
    if (!isLocal(actor)) return false;
    if (trial) return true;
    const osUser = actor.origin?.osUser ?? actor.id;
    return actor.id === osUser && !SLACK_ID.test(osUser) && admins.has(osUser);
  };
  return {
    isAdmin,
    refusal(actor, command) {
      if (READ_ONLY.has(command.kind) || isAdmin(actor)) return null;
      if (isLocal(actor) && BREAK_GLASS.has(command.kind)) return null;
      const what = command.kind === 'promote' ? `request ${command.stage}` : command.kind;
      if (isLocal(actor) && actor.origin?.claimed && actor.origin.claimed !== actor.origin.osUser) {
        return `Only rollout admins may ${what}. "${actor.origin.claimed}" is a name typed here, which nobody verified; with ROLLOUT_ADMINS set the console and CLI act as the OS user (${actor.origin.osUser}@${actor.origin.host}). Approve in Slack, where Slack vouches for who you are.`;
      }
      if (isLocal(actor)) {
        return `Only rollout admins may ${what}; ${actor.origin?.osUser ?? actor.id} is not in ROLLOUT_ADMINS as a local user. From the console and CLI you can use status, history, chart, help, rollback and backtest; request and approve in Slack.`;
      }
      return `Only rollout admins may ${what}; you can use status, history and help. Ask an admin, or get added to ROLLOUT_ADMINS.`;
    },
    describe: () =>
      trial
        ? 'no ROLLOUT_ADMINS: trial mode, every local console/CLI user is an admin under any name'
        : `admins: ${[...admins].join(', ')}`,
  };
}
