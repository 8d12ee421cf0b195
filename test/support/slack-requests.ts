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

/** POSTs a form body to the bot's /slack/events exactly as Slack would. */
export async function postSigned(port: number, body: string, opts: PostOptions = {}): Promise<{ status: number; text: string }> {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const res = await fetch(`http://127.0.0.1:${port}/slack/events`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': opts.signature ?? sign(body, timestamp, opts.secret),
    },
    body,
  });
  return { status: res.status, text: await res.text() };
}

export function commandBody(userId: string, text: string, responseUrl: string, channel = 'C0ROLLOUT'): string {
  return new URLSearchParams({
    token: 'legacy-verification-token', team_id: 'T0TEAM', team_domain: 'acme', channel_id: channel, channel_name: 'rollout',
    user_id: userId, user_name: userId.toLowerCase(), command: '/rollout', text, api_app_id: 'A0APP', is_enterprise_install: 'false',
    response_url: responseUrl, trigger_id: '1.2.3',
  }).toString();
}

/** A block_actions payload for one button click, form-encoded as payload=<JSON>. */
export function buttonBody(userId: string, actionId: string, value: string, responseUrl: string, messageTs = '1764324000.000001', channel = 'C0ROLLOUT'): string {
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
    actions: [{ type: 'button', action_id: actionId, block_id: 'b1', value, text: { type: 'plain_text', text: 'x' }, action_ts: '1764324000.1' }],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}
