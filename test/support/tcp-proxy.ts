import { connect, createServer, type Socket } from 'node:net';

/** Where a proxy forwards to. */
export interface TcpProxyTarget {
  readonly host: string;
  readonly port: number;
}

/** The host and port of a `postgres://` URL (5432 when it names none), for `startTcpProxy`. */
export function postgresTarget(url: string): TcpProxyTarget {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 5432) };
}

/**
 * A loopback TCP proxy that a test controls, to simulate the outage of a dependency (Postgres, Redis,
 * an HTTP endpoint...) without touching the shared service. Point the app at `url(...)`, then `cut()`
 * (or `stall()`) and `restore()` the link. It forwards bytes only; it knows nothing of the protocol.
 * @example
 * const proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 });
 * const app = await boot({ DATABASE_URL: proxy.url(databaseUrl) });
 * proxy.cut(); // the app's connections are reset and new ones fail at once
 * proxy.restore(); // new connections work again
 * await proxy.close(); // in afterAll, after the app is closed
 */
export interface TcpProxy {
  /** The loopback port the proxy listens on. */
  readonly port: number;
  /** Client connections currently open through the proxy, forwarded or held. */
  readonly openConnections: number;
  /** `base` (any `scheme://[user[:password]@]host[:port]/...` URL) with its host and port replaced by the proxy's. */
  url(base: string): string;
  /**
   * The dependency goes away (a crash or a refused port): every open connection is reset, both sides,
   * and new connections are accepted and reset at once, so the port stays ours and clients fail fast.
   */
  cut(): void;
  /**
   * The network goes silent (a partition): connections stay open but no byte is forwarded either way,
   * and new connections are accepted and held. Clients hang until their own timeouts, or `restore()`.
   */
  stall(): void;
  /**
   * Forwarding resumes: held connections go through and new ones are forwarded. Connections reset by
   * `cut()` stay closed: clients must reconnect.
   */
  restore(): void;
  /** Resets every connection and stops listening. */
  close(): Promise<void>;
}

type Mode = 'forward' | 'cut' | 'stall';

interface Link {
  readonly client: Socket;
  upstream?: Socket;
}

/** Starts a proxy on 127.0.0.1 (a free port) that forwards every connection to `target`. */
export async function startTcpProxy(target: TcpProxyTarget): Promise<TcpProxy> {
  const links = new Set<Link>();
  let mode: Mode = 'forward';

  const teardown = (link: Link) => {
    links.delete(link);
    link.client.destroy();
    link.upstream?.destroy();
  };

  // allowHalfOpen: a side that ends still receives the rest of the answer; `pipe` forwards each end
  // to the other side, and the link is torn down once either socket is fully closed.
  const forward = (link: Link) => {
    let upstream = link.upstream;
    if (!upstream) {
      upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true });
      link.upstream = upstream;
      // The target refusing or resetting closes the whole link, as it would without the proxy.
      upstream.on('error', () => teardown(link));
      upstream.on('close', () => teardown(link));
    }
    link.client.pipe(upstream);
    upstream.pipe(link.client);
  };

  const hold = (link: Link) => {
    link.client.unpipe();
    link.client.pause();
    link.upstream?.unpipe();
    link.upstream?.pause();
  };

  const resetAll = () => {
    for (const link of links) {
      reset(link.client);
      if (link.upstream) reset(link.upstream);
    }
    links.clear();
  };

  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    client.on('error', () => {});
    if (mode === 'cut') {
      reset(client);
      return;
    }
    const link: Link = { client };
    links.add(link);
    client.on('error', () => teardown(link));
    client.on('close', () => teardown(link));
    if (mode === 'forward') forward(link);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as { port: number };

  return {
    port,
    get openConnections() {
      return links.size;
    },
    url(base: string): string {
      const url = new URL(base);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    cut() {
      mode = 'cut';
      resetAll();
    },
    stall() {
      if (mode === 'cut') return;
      mode = 'stall';
      for (const link of links) hold(link);
    },
    restore() {
      const previous = mode;
      mode = 'forward';
      if (previous === 'stall') for (const link of links) forward(link);
    },
    close() {
      mode = 'cut';
      resetAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Closes with a TCP reset (what a dropped link looks like to a driver), or plainly while still connecting. */
function reset(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting) socket.destroy();
  else socket.resetAndDestroy();
}
