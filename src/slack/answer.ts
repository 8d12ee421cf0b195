import type { RespondFn } from '@slack/bolt';
import type { Reply } from '../core/outcomes.ts';
import type { Actor } from '../core/views.ts';
import { describeError, isUnavailable } from '../engine/errors.ts';
import type { RolloutService } from '../engine/service.ts';
import type { Logger } from '../log.ts';
import type { RolloutMetrics } from '../adapters/metrics.ts';
import type { RefusalCode } from '../core/state-machine.ts';
import { outcomeMessage, postedInThreadMessage, slowDatabaseMessage, threadRootMessage } from '../render/blocks/outcome.ts';
import type { Message } from '../render/blocks/limits.ts';
import type { HomePublisher } from './home.ts';

/** What every listener needs. */
export interface ListenerDeps {
  service: RolloutService;
  log: Logger;
  /** After a command: deliver the events it caused now rather than at the next drain. */
  afterCommand: () => void;
  /** If the core has not answered by then, say so (the database may be down or slow). */
  answerWithinMs: number;
  /** Posts a message to the rollout channel and a reply in its thread (long reports such as backtests; a backtest's chart follows). */
  postInThread?: (root: Message, reply: Message, outcome: Reply['outcome']) => Promise<void>;
  /** Counts what commands did (Prometheus). */
  metrics?: Pick<RolloutMetrics, 'observeOutcome'>;
  /** The Home tab: shown when opened; a click there is answered on it (it has no response_url). */
  home?: Pick<HomePublisher, 'opened' | 'show'>;
}

export const slackActor = (userId: string): Actor => ({ id: userId, via: 'slack' });

/**
 * Runs the work after the listener has acked, and answers the person privately through
 * response_url. A core that hangs (database down, pool exhausted) gets a "not answered yet"
 * reply first; the real result follows when it comes (response_url takes 5 replies).
 */
export async function answer(
  deps: ListenerDeps,
  respond: AnswerTo,
  work: () => Promise<Reply>,
  context: { user: string; action: string },
): Promise<void> {
  const log = deps.log.child({ component: 'slack', ...context });
  const send = async (message: Message, inChannel = false) => {
    try {
      await respond(message, inChannel);
    } catch (err) {
      log.warn('slack: could not show the answer (response_url or Home tab)', { error: describeError(err) });
    }
  };
  const result = work().catch((err): Reply => {
    const unavailable = isUnavailable(err);
    log.error(unavailable ? 'slack: command failed: database unavailable' : 'slack: command failed', {
      error: describeError(err),
      code: (err as { code?: unknown })?.code,
    });
    return {
      visibility: 'private',
      outcome: unavailable
        ? {
            kind: 'unavailable',
            message: `The database is unavailable (${describeError(err)}). Nothing was changed; try again in a minute.`,
          }
        : { kind: 'error', message: `Something went wrong: ${describeError(err)}. Nothing was changed.` },
    };
  });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), deps.answerWithinMs);
  });
  const first = await Promise.race([result, late]);
  clearTimeout(timer);
  if (first === 'late') await send(slowDatabaseMessage(deps.answerWithinMs));
  const reply = await result;
  deps.metrics?.observeOutcome(reply.outcome);
  log.info('command answered', outcomeContext(reply.outcome));
  if (reply.visibility === 'thread' && deps.postInThread) {
    try {
      await deps.postInThread(
        threadRootMessage(deps.service.plan, reply.outcome),
        outcomeMessage(deps.service.plan, reply.outcome),
        reply.outcome,
      );
      await send(postedInThreadMessage());
      return;
    } catch (err) {
      log.warn('slack: could not post in the rollout channel; answering privately', { error: describeError(err) });
    }
  }
  await send(outcomeMessage(deps.service.plan, reply.outcome), reply.visibility === 'channel');
  if (reply.outcome.kind !== 'unavailable') deps.afterCommand();
}

/** Shows one answer to the person who typed or clicked (private unless inChannel). */
export type AnswerTo = (message: Message, inChannel: boolean) => Promise<void>;

/** Through the response_url Slack put in the command or click. */
export const viaRespond =
  (respond: RespondFn): AnswerTo =>
  async (message, inChannel) => {
    await respond({
      response_type: inChannel ? 'in_channel' : 'ephemeral',
      replace_original: false,
      text: message.text,
      blocks: message.blocks as never,
    });
  };

/**
 * Where the answer to a click goes: its response_url (a message), or the person's Home tab when
 * the click came from there (a view has none, so Bolt leaves respond undefined).
 */
export function replyChannel(deps: ListenerDeps, userId: string, respond: RespondFn | undefined): AnswerTo {
  if (respond) return viaRespond(respond);
  return async (message) => {
    if (deps.home) await deps.home.show(userId, message);
    else deps.log.warn('slack: a click had no response_url and there is no Home tab to answer on', { user: userId });
  };
}

/**
 * A refusal decided in the Slack layer (a tampered or stale button), audited by the engine like
 * its own refusals so the history shows every attempt.
 */
export async function refuseButton(
  deps: ListenerDeps,
  actor: Actor,
  action: string,
  code: RefusalCode,
  message: string,
  detail: Record<string, unknown>,
): Promise<Reply> {
  return { visibility: 'private', outcome: await deps.service.refuse(actor, action, code, message, detail) };
}

/** What a log pipeline filters a command by: its outcome, run, stage, request and refusal code. */
function outcomeContext(o: Reply['outcome']): Record<string, unknown> {
  switch (o.kind) {
    case 'refused':
      return { outcome: o.kind, code: o.code };
    case 'requested':
    case 'approval_recorded':
    case 'rejected':
      return { outcome: o.kind, requestId: o.request.id, runId: o.request.runId, stage: o.request.toStage };
    case 'stage_started':
      return { outcome: o.kind, runId: o.run.id, stage: o.stage, requestId: o.request?.id };
    case 'rolled_back':
    case 'completed':
      return { outcome: o.kind, runId: o.run.id, stage: o.run.state };
    default:
      return { outcome: o.kind };
  }
}
