import { webApi } from '@slack/bolt';
import type { Logger } from '../log.ts';
import { DeliveryError } from '../engine/ports.ts';
import { boltLogger } from './bolt-logger.ts';

export type WebClient = InstanceType<typeof webApi.WebClient>;

export const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';

/**
 * The Web API client for posting and editing messages. It never retries by itself: the outbox
 * is the retry mechanism, and a client that sleeps on a 429 would hold the queue (and the
 * scheduler) hostage, or post twice after a timeout.
 */
export function slackWebClient(token: string, apiUrl: string | undefined, log: Logger): WebClient {
  return new webApi.WebClient(token, {
    slackApiUrl: apiUrl ?? DEFAULT_SLACK_API_URL,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 10_000,
    logger: boltLogger(log),
  });
}

/** Slack's "ok": false codes that mean this payload will never be accepted as it is. */
const BAD_PAYLOAD = new Set(['invalid_blocks', 'invalid_blocks_format', 'msg_too_long', 'invalid_arguments', 'too_many_attachments']);
/** chat.update on a message that is gone or not ours: nothing to edit, and retrying cannot help. */
const GONE = new Set(['message_not_found', 'cant_update_message', 'edit_window_closed']);

/** What to do about a failed Web API call: retry later (the outbox's DeliveryError), or never as it is. */
export type SlackFailure = { kind: 'retry'; error: DeliveryError } | { kind: 'bad_payload'; code: string } | { kind: 'gone'; code: string };

export interface SlackError {
  failure: SlackFailure;
  /** A short, bounded label (metrics): Slack's error code or the transport failure. */
  label: string;
  /** Slack answered and refused the call (an operator may have to fix something), rather than not answering. */
  refused: boolean;
  /** From Slack's Web API client at all; anything else is not Slack's doing. */
  fromSlack: boolean;
}

/** The one classification of a failed Web API call, for every caller (sink, charts, Home tab, checklists, Socket Mode). */
export function slackError(err: unknown): SlackError {
  const e = err as { code?: string; retryAfter?: number; statusCode?: number; data?: { error?: string }; message?: string };
  const retry = (message: string, retryAfterMs: number | null = null): SlackFailure => ({
    kind: 'retry',
    error: new DeliveryError(message, retryAfterMs),
  });
  switch (e?.code) {
    case 'slack_webapi_rate_limited_error':
      return {
        failure: retry(`Slack rate limit (429), retry after ${e.retryAfter} s`, Math.max(1, e.retryAfter ?? 1) * 1000),
        label: 'rate_limited',
        refused: false,
        fromSlack: true,
      };
    case 'slack_webapi_http_error':
      return { failure: retry(`Slack answered HTTP ${e.statusCode}`), label: 'http_error', refused: false, fromSlack: true };
    case 'slack_webapi_request_error':
      return {
        failure: retry(`Slack unreachable: ${e.message ?? 'request failed'}`),
        label: 'unreachable',
        refused: false,
        fromSlack: true,
      };
    case 'slack_webapi_platform_error': {
      const code = e.data?.error ?? 'unknown_error';
      const label = /^[a-z_]{1,40}$/.test(code) ? code : 'unknown_error';
      if (BAD_PAYLOAD.has(code)) return { failure: { kind: 'bad_payload', code }, label, refused: true, fromSlack: true };
      if (GONE.has(code)) return { failure: { kind: 'gone', code }, label, refused: true, fromSlack: true };
      // channel_not_found, not_in_channel, invalid_auth…: an operator must fix something; keep the queue.
      return { failure: retry(`Slack refused the call: ${code}`), label, refused: true, fromSlack: true };
    }
    default:
      return {
        failure: retry(`Slack call failed: ${e?.message ?? String(err)}`),
        label: 'other',
        refused: false,
        fromSlack: typeof e?.code === 'string' && e.code.startsWith('slack_webapi_'),
      };
  }
}

/** Sorts a Web API error into what the caller should do with it. */
export const classify = (err: unknown): SlackFailure => slackError(err).failure;

/** A failure in words for a log line: the reason to retry, or Slack's code. */
export const failureText = (f: SlackFailure): string => (f.kind === 'retry' ? f.error.message : f.code);
