import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ReplicaHealth } from '../engine/outage-watch.ts';
import type { RolloutMetrics } from './metrics.ts';

/*
 * The one GET /healthz and GET /metrics of every mode: console mode and Slack's Socket Mode
 * serve them with startMetricsServer below; Slack's HTTP mode mounts the same two handlers on
 * Bolt's receiver, next to POST /slack/events.
 */

/** Answers one GET /metrics; a scrape that fails says why with a 500 rather than half a page. */
export async function serveMetrics(metrics: RolloutMetrics, res: ServerResponse): Promise<void> {
  try {
    const body = await metrics.scrape();
    res.writeHead(200, { 'content-type': metrics.contentType });
    res.end(body);
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`metrics unavailable: ${(err as Error).message}\n`);
  }
}

/** This replica as its peers and people see it (the scheduler's outage watch). */
export type ReplicaHealthSource = (databaseUp: boolean) => ReplicaHealth;

/**
 * Answers one GET /healthz. 503 only when the database is down: that is what a restart might fix.
 * Anything else worth knowing (`extra`: Slack's connection) is reported but answered 200, so a
 * process manager does not restart a guard that works. `replica` is what the other replicas read
 * when they lose the database (engine/outage-watch.ts): whether this one still reaches it.
 */
export async function serveHealthz(
  res: ServerResponse,
  databaseUp: () => Promise<boolean>,
  extra: Record<string, string> = {},
  replica?: ReplicaHealthSource,
): Promise<void> {
  const up = await databaseUp().catch(() => false);
  const r = replica?.(up);
  res.writeHead(up ? 200 : 503, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      ok: up,
      bot: 'up',
      database: up ? 'up' : 'unavailable',
      ...(r?.reason ? { reason: r.reason } : {}),
      ...extra,
      ...(r ? { replica: { ...r, reason: undefined } } : {}),
    }),
  );
}

/**
 * While a replica waits for its database at start (app.ts), its port answers GET /healthz 503
 * with the reason, and everything else 503 too: up, not ready. Closed before the real server
 * (or Bolt's receiver) takes the port.
 */
export async function startWaitingServer(port: number, reason: () => string): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
    res.end(JSON.stringify({ ok: false, bot: 'starting', database: 'unavailable', reason: reason() }));
  });
  return listen(server, port);
}

/**
 * A small HTTP server for GET /metrics and GET /healthz (console mode on METRICS_PORT or PORT,
 * Socket Mode on PORT). Resolves to the port it listens on.
 */
export async function startMetricsServer(
  metrics: RolloutMetrics,
  port: number,
  databaseUp: () => Promise<boolean>,
  extra: () => Record<string, string> = () => ({}),
  replica?: ReplicaHealthSource,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
    } else if (path === '/metrics') {
      void serveMetrics(metrics, res);
    } else if (path === '/healthz') {
      void serveHealthz(res, databaseUp, extra(), replica);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('GET /metrics or /healthz\n');
    }
  });
  return { server, ...(await listen(server, port)) };
}

/** Listens on `port` (0: any), resolving to the port taken; close() also ends kept-alive connections. */
async function listen(server: Server, port: number): Promise<{ port: number; close(): Promise<void> }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
