import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An in-process Slack: the Web API under /api/ (form-encoded, as @slack/web-api sends it) and
 * response_url endpoints under /respond/ (JSON, as Bolt's respond() sends it). Every call is
 * recorded with its decoded body; answers can be scripted (429 with Retry-After, 500, a
 * platform error, or dropping the connection).
 */
export interface ApiCall {
  method: string;
  body: Record<string, unknown>;
  authorization: string | undefined;
}

export interface Reply {
  url: string;
  body: Record<string, any>;
}

/** Bytes POSTed to an upload_url that files.getUploadURLExternal handed out. */
export interface Upload {
  fileId: string;
  /** The file as Slack stores it (the multipart part's content). */
  bytes: Buffer;
  /** Which Web API call preceded it (index into calls). */
  afterCall: number;
}

export type Scripted = { status: 429; retryAfter: number } | { status: 500 } | { error: string } | { drop: true } | { pass: true };

export class FakeSlack {
  readonly calls: ApiCall[] = [];
  readonly replies: Reply[] = [];
  readonly uploads: Upload[] = [];
  /** Files completeUploadExternal shared (what the channel shows), with the index of that call. */
  readonly shared: { call: number; fileId: string; title: string | undefined; channel: unknown; threadTs: unknown }[] = [];
  private fileCounter = 0;
  private script: Scripted[] = [];
  private methodScript = new Map<string, Scripted[]>();
  private held = new Map<string, Scripted>();
  /** Socket Mode: where apps.connections.open sends the bot (see fake-socket-mode.ts). */
  socketUrl: (() => string) | null = null;
  private server: Server;
  private tsCounter = 0;
  private responseCounter = 0;
  private viewCounter = 0;
  private waiters: (() => void)[] = [];
  url = '';

  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
    // Slack keeps an idle connection far longer than the client's own idle close (undici: 4 s).
    // Node's default 5 s let the server drop a connection the client was just reusing (a keep-alive
    // race, nodejs/undici#3141; wider when the event loop lags under load): the post failed with
    // ECONNRESET, its retry waited on the test's clock, and the last post of a test went missing.
    this.server.keepAliveTimeout = 120_000;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get apiUrl(): string {
    return `${this.url}/api/`;
  }

  /** A fresh response_url, as Slack puts one in every command and button payload. */
  responseUrl(): string {
    return `${this.url}/respond/${++this.responseCounter}`;
  }

  /** The next Web API calls get these answers, in order; then ok again. */
  failNext(...answers: Scripted[]): void {
    this.script.push(...answers);
  }

  /** The next calls of this one method get these answers, in order (other methods are not affected). */
  failNextOf(method: string, ...answers: Scripted[]): void {
    this.methodScript.set(method, [...(this.methodScript.get(method) ?? []), ...answers]);
  }

  /** Every call of this method gets this answer until `release(method)`: an outage of any length. */
  hold(method: string, answer: Scripted): void {
    this.held.set(method, answer);
  }

  release(method: string): void {
    this.held.delete(method);
  }

  clear(): void {
    this.calls.length = 0;
    this.replies.length = 0;
    this.uploads.length = 0;
    this.shared.length = 0;
    this.tsCounter = 0;
    this.viewCounter = 0;
  }

  /** The views Slack was asked to show (views.open / views.publish / views.update), oldest first. */
  views(method?: 'views.open' | 'views.publish' | 'views.update', userId?: string): ApiCall[] {
    return this.calls.filter(
      (c) => (method ? c.method === method : c.method.startsWith('views.')) && (!userId || c.body.user_id === userId),
    );
  }

  /** Waits until the condition over the recorded traffic holds (no sleeps, no timings). */
  async until(condition: () => boolean, what = 'condition', timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline)
        throw new Error(`fake Slack: timed out waiting for ${what} (${this.calls.length} calls, ${this.replies.length} replies)`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private notify(): void {
    const w = this.waiters.splice(0);
    for (const f of w) f();
  }

  private async handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    const raw = bytes.toString('utf8');
    const path = new URL(req.url ?? '/', this.url).pathname;
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (path.startsWith('/respond/')) {
      this.replies.push({ url: path, body: JSON.parse(raw) });
      json(200, { ok: true });
      this.notify();
      return;
    }
    if (path.startsWith('/upload/')) {
      // Step 2 of files.uploadV2: the Web API client POSTs the file as multipart/form-data.
      const scripted = this.methodScript.get('upload')?.shift();
      if (scripted && 'status' in scripted) return json(scripted.status, { ok: false });
      const form = await new Response(bytes, { headers: { 'content-type': String(req.headers['content-type']) } }).formData();
      const file = [...form.values()].find((v): v is File => typeof v !== 'string');
      this.uploads.push({
        fileId: path.slice('/upload/'.length),
        bytes: Buffer.from(await file!.arrayBuffer()),
        afterCall: this.calls.length - 1,
      });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`OK - ${file!.size}`);
      this.notify();
      return;
    }
    if (!path.startsWith('/api/')) return json(404, { ok: false, error: 'unknown_path' });
    const method = path.slice('/api/'.length);
    const body: Record<string, unknown> = {};
    // The Web API client sends objects as JSON strings inside the form: blocks, files, and views (views.*).
    for (const [k, v] of new URLSearchParams(raw)) body[k] = k === 'blocks' || k === 'files' || k === 'view' ? JSON.parse(v) : v;
    this.calls.push({ method, body, authorization: req.headers.authorization });
    const scripted =
      this.held.get(method) ?? (this.methodScript.get(method)?.length ? this.methodScript.get(method)!.shift() : this.script.shift());
    this.notify();
    if (scripted && !('pass' in scripted)) {
      if ('drop' in scripted) return void req.socket.destroy();
      if ('error' in scripted) return json(200, { ok: false, error: scripted.error });
      if (scripted.status === 429) return json(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(scripted.retryAfter) });
      return json(500, { ok: false, error: 'internal_error' });
    }
    if (method === 'chat.postMessage') {
      const ts = `1764324000.${String(++this.tsCounter).padStart(6, '0')}`;
      return json(200, { ok: true, channel: body.channel, ts, message: { ts } });
    }
    if (method === 'apps.connections.open' && this.socketUrl) return json(200, { ok: true, url: this.socketUrl() });
    if (method === 'files.getUploadURLExternal') {
      const fileId = `F${String(++this.fileCounter).padStart(6, '0')}`;
      return json(200, { ok: true, upload_url: `${this.url}/upload/${fileId}`, file_id: fileId });
    }
    if (method === 'files.completeUploadExternal') {
      const files = body.files as { id: string; title?: string }[];
      if (files.some((f) => !this.uploads.some((u) => u.fileId === f.id))) return json(200, { ok: false, error: 'file_not_found' });
      for (const f of files)
        this.shared.push({ call: this.calls.length - 1, fileId: f.id, title: f.title, channel: body.channel_id, threadTs: body.thread_ts });
      return json(200, { ok: true, files: files.map((f) => ({ id: f.id, title: f.title })) });
    }
    if (method === 'chat.update') return json(200, { ok: true, channel: body.channel, ts: body.ts });
    if (method === 'views.open' || method === 'views.publish')
      return json(200, { ok: true, view: { ...(body.view as object), id: `V${String(++this.viewCounter).padStart(6, '0')}` } });
    if (method === 'views.update') return json(200, { ok: true, view: { ...(body.view as object), id: body.view_id } });
    return json(200, { ok: true });
  }

  /** Calls as a reviewer reads them: the method and what Slack would show, without the token. */
  shown(from = 0): { method: string; body: Record<string, unknown> }[] {
    return this.calls.slice(from).map((c) => ({ method: c.method, body: c.body }));
  }
}
