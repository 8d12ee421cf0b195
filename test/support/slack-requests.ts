import { createHmac } from 'node:crypto';

export const SIGNING_SECRET = 'test-signing-secret';

/** Slack's request signing: HMAC-SHA256 over "v0:<timestamp>:<raw body>". */
export function sign(body: string, timestamp: number, secret = SIGNING_SECRET): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export interface PostOptions {
  secret?: string;
  /** Seconds since the epoch; default now (Bolt checks it against the real clock). */
  timestamp?: number;
  signature?: string;
}

/**
 * POSTs a body to the bot's /slack/events exactly as Slack would: commands and interactions
 * form-encoded, Events API callbacks as JSON (postSignedJson), signed the same way.
 */
export async function postSigned(
  port: number,
  body: string,
  opts: PostOptions & { contentType?: string } = {},
): Promise<{ status: number; text: string }> {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const res = await fetch(`http://127.0.0.1:${port}/slack/events`, {
    method: 'POST',
    headers: {
      'content-type': opts.contentType ?? 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': opts.signature ?? sign(body, timestamp, opts.secret),
    },
    body,
  });
  return { status: res.status, text: await res.text() };
}

export function commandBody(userId: string, text: string, responseUrl: string, channel = 'C0ROLLOUT'): string {
  return new URLSearchParams({
    token: 'legacy-verification-token',
    team_id: 'T0TEAM',
    team_domain: 'acme',
    channel_id: channel,
    channel_name: 'rollout',
    user_id: userId,
    user_name: userId.toLowerCase(),
    command: '/rollout',
    text,
    api_app_id: 'A0APP',
    is_enterprise_install: 'false',
    response_url: responseUrl,
    trigger_id: '1.2.3',
  }).toString();
}

/** A block_actions payload for one button click, form-encoded as payload=<JSON>. */
export function buttonBody(
  userId: string,
  actionId: string,
  value: string,
  responseUrl: string,
  messageTs = '1764324000.000001',
  channel = 'C0ROLLOUT',
): string {
  const payload = {
    type: 'block_actions',
    user: { id: userId, username: userId.toLowerCase(), name: userId.toLowerCase(), team_id: 'T0TEAM' },
    api_app_id: 'A0APP',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: messageTs, channel_id: channel, is_ephemeral: false },
    trigger_id: '1.2.3',
    team: { id: 'T0TEAM', domain: 'acme' },
    channel: { id: channel, name: 'rollout' },
    message: { type: 'message', ts: messageTs, text: 'x' },
    response_url: responseUrl,
    actions: [
      { type: 'button', action_id: actionId, block_id: 'b1', value, text: { type: 'plain_text', text: 'x' }, action_ts: '1764324000.1' },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export const postSignedJson = (port: number, body: unknown, opts: PostOptions = {}) =>
  postSigned(port, JSON.stringify(body), { ...opts, contentType: 'application/json' });

/** An Events API `event_callback` body, as Slack posts it in HTTP mode. */
let events = 0;

function eventBody(event: Record<string, unknown>, eventId = `Ev${String(++events).padStart(8, '0')}`): Record<string, unknown> {
  return {
    token: 'legacy-verification-token',
    team_id: 'T0TEAM',
    api_app_id: 'A0APP',
    type: 'event_callback',
    event_id: eventId,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ team_id: 'T0TEAM', user_id: 'UBOT', is_bot: true }],
    event: { event_ts: '1764324000.000100', ...event },
  };
}

/** `app_home_opened` for the Home tab (the event Slack sends each time someone opens it). */
export const homeOpenedEvent = (userId: string) => eventBody({ type: 'app_home_opened', user: userId, channel: 'D0BOTDM', tab: 'home' });

/** A button click on the Home tab: container type view, and no response_url (Slack sends none). */
export function homeButtonBody(userId: string, actionId: string, value: string, triggerId = '1.2.3'): string {
  const payload = {
    type: 'block_actions',
    user: { id: userId, username: userId.toLowerCase(), name: userId.toLowerCase(), team_id: 'T0TEAM' },
    api_app_id: 'A0APP',
    token: 'legacy-verification-token',
    trigger_id: triggerId,
    container: { type: 'view', view_id: 'V0HOME' },
    team: { id: 'T0TEAM', domain: 'acme' },
    view: { id: 'V0HOME', type: 'home', callback_id: '', private_metadata: '', blocks: [], state: { values: {} } },
    actions: [
      { type: 'button', action_id: actionId, block_id: 'b1', value, text: { type: 'plain_text', text: 'x' }, action_ts: '1764324000.1' },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** A modal's submission (view_submission), form-encoded as payload=<JSON>, with the input's value. */
export function viewSubmissionBody(
  userId: string,
  view: { callback_id: string; private_metadata: string; id?: string },
  values: Record<string, Record<string, string | null>>,
): string {
  const state = Object.fromEntries(
    Object.entries(values).map(([block, actions]) => [
      block,
      Object.fromEntries(Object.entries(actions).map(([a, v]) => [a, { type: 'plain_text_input', value: v }])),
    ]),
  );
  const payload = {
    type: 'view_submission',
    team: { id: 'T0TEAM', domain: 'acme' },
    user: { id: userId, username: userId.toLowerCase(), name: userId.toLowerCase(), team_id: 'T0TEAM' },
    api_app_id: 'A0APP',
    token: 'legacy-verification-token',
    trigger_id: '4.5.6',
    view: {
      id: view.id ?? 'V0FORM',
      team_id: 'T0TEAM',
      type: 'modal',
      callback_id: view.callback_id,
      private_metadata: view.private_metadata,
      blocks: [],
      state: { values: state },
      hash: '1.1',
      app_id: 'A0APP',
    },
    response_urls: [],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}
