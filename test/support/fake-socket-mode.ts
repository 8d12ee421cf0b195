import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface Ack {
  envelope_id: string;
  payload?: Record<string, unknown>;
}

/**
 * Slack's Socket Mode end, in-process: FakeSlack answers apps.connections.open with one of these
 * ws:// URLs; on connection it says `hello`, then pushes envelopes and records the app's acks.
 * Pongs are answered by hand, so a test can make a connection go silent without a close frame.
 */
export class FakeSocketMode {
  private readonly wss: WebSocketServer;
  private readonly links: { ws: WebSocket; tcp: Socket }[] = [];
  readonly acks = new Map<string, Ack>();
  private readonly waiting = new Map<string, (ack: Ack) => void>();
  private envelopes = 0;
  private urls = 0;
  private port = 0;

  constructor() {
    this.wss = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong: false });
    this.wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
      this.links.push({ ws, tcp: req.socket as Socket });
      ws.on('ping', (data) => ws.pong(data));
      ws.on('message', (raw) => {
        const ack = JSON.parse(raw.toString()) as Ack;
        this.acks.set(ack.envelope_id, ack);
        this.waiting.get(ack.envelope_id)?.(ack);
      });
      ws.send(
        JSON.stringify({
          type: 'hello',
          num_connections: 1,
          debug_info: { host: 'fake-socket-mode' },
          connection_info: { app_id: 'A0APP' },
        }),
      );
    });
  }

  async start(): Promise<this> {
    if (!this.wss.address()) await new Promise<void>((resolve) => this.wss.once('listening', resolve));
    this.port = (this.wss.address() as AddressInfo).port;
    return this;
  }

  /** A fresh URL for apps.connections.open, as Slack hands out one per connection. */
  nextUrl(): string {
    return `ws://127.0.0.1:${this.port}/link?ticket=${++this.urls}`;
  }

  /** Connections the bot ever opened. */
  get opened(): number {
    return this.links.length;
  }

  private get live(): WebSocket {
    const link = this.links.at(-1);
    if (!link || link.ws.readyState !== link.ws.OPEN) throw new Error('fake Socket Mode: the bot is not connected');
    return link.ws;
  }

  /** Pushes an envelope and resolves with the app's ack for it. */
  async deliver(type: 'slash_commands' | 'interactive', payload: Record<string, unknown>): Promise<Ack> {
    const envelope_id = `env-${++this.envelopes}`;
    const acked = new Promise<Ack>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fake Socket Mode: no ack for ${envelope_id} (${type})`)), 10_000);
      this.waiting.set(envelope_id, (ack) => {
        clearTimeout(timer);
        this.waiting.delete(envelope_id);
        resolve(ack);
      });
    });
    this.live.send(JSON.stringify({ envelope_id, type, payload, accepts_response_payload: type === 'slash_commands' }));
    return acked;
  }

  /** Slack's `disconnect` message: it wants the app on a new connection. */
  askToReconnect(reason: 'refresh_requested' | 'link_disabled' | 'warning'): void {
    this.live.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'fake-socket-mode' } }));
  }

  /** Closes the live connection with a close frame, as a Slack server going away does. */
  closeLive(): void {
    this.live.close(1001, 'going away');
  }

  /** The live connection goes silent: no pongs, no close frame, nothing read; TCP stays open. */
  playDead(): void {
    const link = this.links.at(-1)!;
    link.ws.removeAllListeners('ping');
    link.tcp.pause();
  }

  async stop(): Promise<void> {
    for (const { ws, tcp } of this.links) {
      ws.terminate();
      tcp.destroy();
    }
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
