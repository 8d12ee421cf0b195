import type { SocketModeReceiver } from '@slack/bolt';
import type { Logger } from '../log.ts';
import type { Backoff } from '../core/backoff.ts';
import { backoffDelayMs, SOCKET_BACKOFF } from './backoff.ts';
import { slackError } from './web.ts';

type SocketClient = SocketModeReceiver['client'];

/** What /healthz reports: never connected yet, connected, or lost and trying again. */
export type SocketState = 'connecting' | 'connected' | 'reconnecting';

export interface SocketLinkOptions {
  log: Logger;
  backoff?: Backoff;
  random?: () => number;
}

/**
 * Keeps a Socket Mode client connected for as long as the process lives. The library's own
 * reconnect is switched off (autoReconnectEnabled: false) because it gives up, and rejects a
 * promise nobody holds, on the first 5xx or network error from apps.connections.open; here every
 * failure, at start or later, just schedules the next try with capped exponential backoff.
 */
export class SocketLink {
  private current: SocketState = 'connecting';
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private inFlight = false;
  private stopped = false;
  private lostAt: number | null = null;
  private readonly backoff: Backoff;
  private readonly random: () => number;

  constructor(
    private readonly client: SocketClient,
    private readonly opts: SocketLinkOptions,
  ) {
    this.backoff = opts.backoff ?? SOCKET_BACKOFF;
    this.random = opts.random ?? Math.random;
    client.on('connected', () => this.onConnected());
    // Emitted when a socket closes for any reason (close frame, `disconnect` message, missed pongs).
    client.on('disconnected', () => this.onDisconnected());
  }

  get state(): SocketState {
    return this.current;
  }

  /** Starts connecting in the background; never throws, never rejects. */
  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** No more attempts; call before the receiver disconnects the client, so that is not taken for a loss. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private connect(): void {
    if (this.stopped || this.inFlight) return;
    this.timer = null;
    this.inFlight = true;
    this.attempt += 1;
    this.client.start().then(
      () => {
        this.inFlight = false;
        // Stopped while apps.connections.open was in flight: do not keep a socket nobody wants.
        if (this.stopped) void this.client.disconnect().catch(() => {});
      },
      (err: unknown) => {
        this.inFlight = false;
        if (this.stopped) return;
        // A socket that opened and then closed before `hello` also lands here (after 'disconnected').
        this.scheduleRetry(err);
      },
    );
  }

  private onConnected(): void {
    const downMs = this.lostAt === null ? null : Date.now() - this.lostAt;
    this.opts.log.info(
      downMs === null
        ? 'slack: Socket Mode connected'
        : `slack: Socket Mode reconnected after ${(downMs / 1000).toFixed(1)} s without Slack (${this.attempt} attempt(s))`,
    );
    this.current = 'connected';
    this.attempt = 0;
    this.lostAt = null;
  }

  private onDisconnected(): void {
    if (this.stopped) return;
    if (this.current === 'connected') {
      this.current = 'reconnecting';
      this.lostAt = Date.now();
      this.opts.log.warn('slack: Socket Mode connection lost; reconnecting (the guard, reports and the outbox keep running)');
    }
    // While start() is pending its rejection schedules the retry; otherwise do it here.
    if (!this.inFlight) this.scheduleRetry(null);
  }

  private scheduleRetry(err: unknown): void {
    if (this.stopped || this.timer) return;
    if (this.current === 'connected') {
      this.current = 'reconnecting';
      this.lostAt = Date.now();
    }
    const waitMs = backoffDelayMs(this.attempt, this.random, this.backoff);
    if (err !== null) {
      // A platform error (invalid_auth, not_allowed_token_type…) needs an operator; a 5xx or network error just time.
      const { failure, refused } = slackError(err);
      const line = `slack: Socket Mode could not connect (attempt ${this.attempt}${this.current === 'connecting' ? ', commands and buttons are unavailable until it does' : ''}); retrying in ${(waitMs / 1000).toFixed(waitMs < 1000 ? 2 : 1)} s`;
      this.opts.log[refused ? 'error' : 'warn'](line, {
        error: failure.kind === 'retry' ? failure.error.message : `Slack refused the call: ${failure.code}`,
      });
    }
    this.timer = setTimeout(() => this.connect(), waitMs);
  }
}
