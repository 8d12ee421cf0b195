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

export type SlackFailure = { kind: 'retry'; error: DeliveryError } | { kind: 'bad_payload'; code: string } | { kind: 'gone'; code: string };

/** Sorts a Web API error into what the sink should do with it. */
export function classify(err: unknown): SlackFailure {
  const e = err as { code?: string; retryAfter?: number; statusCode?: number; data?: { error?: string }; message?: string };
  switch (e?.code) {
    case 'slack_webapi_rate_limited_error':
      return {
        kind: 'retry',
        error: new DeliveryError(`Slack rate limit (429), retry after ${e.retryAfter} s`, Math.max(1, e.retryAfter ?? 1) * 1000),
      };
    case 'slack_webapi_http_error':
      return { kind: 'retry', error: new DeliveryError(`Slack answered HTTP ${e.statusCode}`) };
    case 'slack_webapi_request_error':
      return { kind: 'retry', error: new DeliveryError(`Slack unreachable: ${e.message ?? 'request failed'}`) };
    case 'slack_webapi_platform_error': {
      const code = e.data?.error ?? 'unknown_error';
      if (BAD_PAYLOAD.has(code)) return { kind: 'bad_payload', code };
      if (GONE.has(code)) return { kind: 'gone', code };
      // channel_not_found, not_in_channel, invalid_auth…: an operator must fix something; keep the queue.
      return { kind: 'retry', error: new DeliveryError(`Slack refused the call: ${code}`) };
    }
    default:
      return { kind: 'retry', error: new DeliveryError(`Slack call failed: ${e?.message ?? String(err)}`) };
  }
}

/** A short, bounded label for a failed Web API call (metrics): Slack's error code or the transport failure. */
export function failureKind(err: unknown): string {
  const e = err as { code?: string; data?: { error?: string } };
  switch (e?.code) {
    case 'slack_webapi_rate_limited_error':
      return 'rate_limited';
    case 'slack_webapi_http_error':
      return 'http_error';
    case 'slack_webapi_request_error':
      return 'unreachable';
    case 'slack_webapi_platform_error':
      return /^[a-z_]{1,40}$/.test(e.data?.error ?? '') ? e.data!.error! : 'unknown_error';
    default:
      return 'other';
  }
}
