import net from 'node:net';

/**
 * A TCP proxy in front of Postgres that a test can cut: `down()` drops every open connection
 * and refuses new ones, as a database outage or a network partition would look to the bot.
 * With `delayMs`, everything the client sends reaches Postgres that much later (order kept):
 * every query, and the connection start-up, takes at least `delayMs` (bench/ack.ts: 2 s).
 */
export async function tcpProxy(target: { host: string; port: number }, opts: { delayMs?: number } = {}) {
  const sockets = new Set<net.Socket>();
  const pairs = new Set<[net.Socket, net.Socket]>();
  let up = true;
  // A host that vanished: bytes stop flowing both ways, and nobody sends FIN or RST.
  let stalled = false;
  const server = net.createServer((client) => {
    if (!up) return client.destroy();
    const upstream = net.connect(target.port, target.host);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    upstream.on('close', () => client.destroyed && pairs.delete(pair));
    client.on('close', () => upstream.destroyed && pairs.delete(pair));
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    if (opts.delayMs) {
      client.on('data', (chunk) => {
        setTimeout(() => upstream.destroyed || upstream.write(chunk), opts.delayMs);
      });
      client.on('end', () => setTimeout(() => upstream.end(), opts.delayMs));
      upstream.pipe(client);
    } else {
      client.on('data', (chunk) => stalled || upstream.destroyed || upstream.write(chunk));
      upstream.on('data', (chunk) => stalled || client.destroyed || client.write(chunk));
      client.on('end', () => stalled || upstream.end());
      upstream.on('end', () => stalled || client.end());
    }
    // Once stalled, a side that closes is not told to the other: the far end just hears nothing.
    client.on('close', () => stalled || upstream.destroy());
    upstream.on('close', () => stalled || client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    /** The same database URL, through the proxy. */
    url: (databaseUrl: string) => {
      const u = new URL(databaseUrl);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    down() {
      up = false;
      for (const s of sockets) s.destroy();
    },
    /** Silently drops every byte from now on, on open and new connections alike; closes nothing. */
    stall() {
      stalled = true;
    },
    /** Connections are accepted and answered again (after down() or stall(); bytes dropped while stalled stay lost). */
    up() {
      up = true;
      if (stalled) {
        // A healed path carries the word of a side that gave up meanwhile (its RST), as TCP would:
        // Postgres ends a session whose client left, and frees the locks it held.
        for (const [client, upstream] of pairs) if (client.destroyed || upstream.destroyed) for (const s of [client, upstream]) s.destroy();
      }
      stalled = false;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
