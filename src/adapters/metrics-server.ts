import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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

/**
 * Answers one GET /healthz. 503 only when the database is down: that is what a restart might fix.
 * Anything else worth knowing (`extra`: Slack's connection) is reported but answered 200, so a
 * process manager does not restart a guard that works.
 */
export async function serveHealthz(
  res: ServerResponse,
  databaseUp: () => Promise<boolean>,
  extra: Record<string, string> = {},
): Promise<void> {
  const up = await databaseUp().catch(() => false);
  res.writeHead(up ? 200 : 503, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ok: up, bot: 'up', database: up ? 'up' : 'unavailable', ...extra }));
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
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
    } else if (path === '/metrics') {
      void serveMetrics(metrics, res);
    } else if (path === '/healthz') {
      void serveHealthz(res, databaseUp, extra());
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('GET /metrics or /healthz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
