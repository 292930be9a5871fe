/** How a `Heartbeat` reaches the connection it watches. */
export interface HeartbeatProbe<C> {
  /** The connection to watch now; undefined while there is none (down, or the bus stopped). */
  current(): C | undefined;
  /** Sends a ping on `connection`; it counts as answered when the promise resolves. */
  ping(connection: C): Promise<unknown>;
  /** Drops `connection`, whose last ping is still unanswered; the adapter then reconnects and resyncs. */
  silent(connection: C): void;
}

/**
 * Notices a silent network partition, which TCP can take many minutes to report: every `intervalMs`
 * it pings the current connection, and a ping still unanswered at the next beat means the peer is
 * gone, so the connection is dropped through `silent`. An interval of 0 switches it off.
 * @example
 * const heartbeat = new Heartbeat(10_000, {
 *   current: () => this.client,
 *   ping: (client) => client.query('SELECT 1'),
 *   silent: (client) => client.connection.stream.destroy(new Error('no answer')),
 * });
 * heartbeat.start(); // and heartbeat.reset() on every new connection, heartbeat.stop() in stop()
 */
export class Heartbeat<C> {
  private timer: NodeJS.Timeout | undefined;
  private pingPending = false;

  constructor(
    readonly intervalMs: number,
    private readonly probe: HeartbeatProbe<C>,
  ) {}

  /** Beats from now on until `stop()`, without keeping the process alive. */
  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => this.beat(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A new connection: no ping is outstanding on it. */
  reset(): void {
    this.pingPending = false;
  }

  private beat(): void {
    const connection = this.probe.current();
    if (connection === undefined) return;
    if (this.pingPending) {
      this.pingPending = false;
      this.probe.silent(connection);
      return;
    }
    this.pingPending = true;
    this.probe.ping(connection).then(
      () => {
        // An answer from a connection since replaced says nothing about the current one.
        if (this.probe.current() === connection) this.pingPending = false;
      },
      () => {},
    );
  }
}
