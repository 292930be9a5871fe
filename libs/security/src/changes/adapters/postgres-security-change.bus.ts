import pg from 'pg';
import { decodeSecurityChange, type SecurityChange } from '../security-change.js';
import { errorMessage, SecurityChangeBus, type SecurityChangeBusOptions } from '../security-change.bus.js';
import { Heartbeat } from './heartbeat.js';

/** Runs one SQL statement with `$1`-style parameters, e.g. `(sql, params) => dataSource.query(sql, params)`. */
export type SecurityChangeQuery = (sql: string, params?: unknown[]) => Promise<unknown>;

/** Options of `PostgresSecurityChangeBus`. */
export interface PostgresSecurityChangeBusOptions extends SecurityChangeBusOptions {
  /**
   * The dedicated LISTEN connection: a `postgres://` URL or a `pg.ClientConfig` (defaults added:
   * `connectionTimeoutMillis` 5000, `keepAlive`). It must reach the server directly, not through a
   * transaction-mode pooler such as PgBouncer, which does not keep LISTEN.
   */
  listenConnection: string | pg.ClientConfig;
  /** Where `publish` runs `pg_notify`: a `pg.Pool`, or a query function (a TypeORM DataSource's `query`). */
  query: pg.Pool | SecurityChangeQuery;
  /** First delay before reconnecting the LISTEN connection; it doubles per failed attempt (default 100). */
  minReconnectDelayMs?: number;
  /** Longest delay between reconnection attempts (default 2000). */
  maxReconnectDelayMs?: number;
  /**
   * Every that many milliseconds the LISTEN connection runs `SELECT 1`; one still unanswered at the
   * next beat means a silent network partition, and the connection is dropped and re-established
   * (then `onResync`). 0 switches it off. Default 10 s.
   */
  heartbeatIntervalMs?: number;
}

/** The LISTEN/NOTIFY channel. */
export const SECURITY_CHANGES_PG_CHANNEL = 'security_changes';

const NOTIFY_SQL = `SELECT pg_notify('${SECURITY_CHANGES_PG_CHANNEL}', $1)`;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_HEARTBEAT_MS = 10_000;
// How long stop() lets a connection say goodbye before cutting it.
const END_GRACE_MS = 1_000;

/**
 * PostgreSQL LISTEN/NOTIFY bus on channel `security_changes`: publish runs
 * `SELECT pg_notify('security_changes', <json>)` through the given pool or query function; a dedicated
 * `pg.Client` listens (never a pooled connection, which would lose the LISTEN when returned). When that
 * connection drops it reconnects with exponential backoff, forever, and calls `onResync` once it
 * listens again, since notifications sent meanwhile are lost.
 *
 * Not for the embedded PGlite server, which does not deliver notifications across connections: use
 * `PollingSecurityChangeBus` there. Notifications are sent at commit: publishing inside a transaction
 * delivers to the other instances only if and when it commits.
 * @example
 * const bus = new PostgresSecurityChangeBus({
 *   listenConnection: process.env.DATABASE_URL!,
 *   query: (sql, params) => dataSource.query(sql, params),
 * });
 * await bus.start();
 */
export class PostgresSecurityChangeBus extends SecurityChangeBus {
  readonly kind = 'postgres';
  private readonly clientConfig: pg.ClientConfig;
  private readonly runQuery: SecurityChangeQuery;
  private readonly minReconnectDelayMs: number;
  private readonly maxReconnectDelayMs: number;
  private readonly heartbeat: Heartbeat<pg.Client>;
  private readonly connectTimeoutMs: number;
  /** The client that listens, once LISTEN succeeded. */
  private client: pg.Client | undefined;
  /** A connection attempt in progress, and its client. */
  private connecting: Promise<void> | undefined;
  private pending: pg.Client | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private failedAttempts = 0;
  private starting: Promise<void> | undefined;
  private stopped = false;

  constructor(options: PostgresSecurityChangeBusOptions) {
    super(options);
    const {
      listenConnection,
      query,
      minReconnectDelayMs = 100,
      maxReconnectDelayMs = 2_000,
      heartbeatIntervalMs = DEFAULT_HEARTBEAT_MS,
    } = options;
    for (const [name, value] of Object.entries({ minReconnectDelayMs, maxReconnectDelayMs, heartbeatIntervalMs })) {
      if (!Number.isInteger(value) || value < 0) {
        throw new TypeError(`PostgresSecurityChangeBus: ${name} must be an integer >= 0, got ${value}`);
      }
    }
    const config = typeof listenConnection === 'string' ? { connectionString: listenConnection } : listenConnection;
    this.clientConfig = {
      ...config,
      connectionTimeoutMillis: config.connectionTimeoutMillis || DEFAULT_CONNECT_TIMEOUT_MS,
      keepAlive: config.keepAlive ?? true,
    };
    this.connectTimeoutMs = this.clientConfig.connectionTimeoutMillis!;
    this.runQuery = typeof query === 'function' ? query : (sql, params) => query.query(sql, params);
    this.minReconnectDelayMs = Math.max(1, minReconnectDelayMs);
    this.maxReconnectDelayMs = Math.max(this.minReconnectDelayMs, maxReconnectDelayMs);
    this.heartbeat = new Heartbeat(heartbeatIntervalMs, {
      current: () => (this.stopped ? undefined : this.client),
      ping: (client) => client.query('SELECT 1'),
      // end() would wait for a peer that no longer answers; destroying the socket makes pg emit 'end'.
      silent: (client) =>
        client.connection.stream.destroy(new Error(`no answer to SELECT 1 within ${heartbeatIntervalMs} ms`)),
    });
  }

  async publish(change: SecurityChange): Promise<void> {
    const stamped = this.stamp(change);
    if (this.stopped) throw new Error('PostgresSecurityChangeBus: publish after stop()');
    await this.deliverAndSend('PostgresSecurityChangeBus', stamped, () =>
      this.runQuery(NOTIFY_SQL, [JSON.stringify(stamped)]),
    );
  }

  /**
   * Connects and listens. Rejects when the first attempt fails; the bus then keeps reconnecting and
   * calls `onResync` once it listens (call `stop()` in any case).
   */
  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.heartbeat.stop();
    // An attempt in progress may be waiting for a server that does not answer: cut it short.
    this.pending?.connection.stream.destroy();
    await this.connecting?.catch(() => {});
    const client = this.client;
    this.client = undefined;
    if (client) await discard(client);
  }

  private async doStart(): Promise<void> {
    if (this.stopped) throw new Error('PostgresSecurityChangeBus: start after stop()');
    this.heartbeat.start();
    try {
      await this.connect();
    } catch (error) {
      this.logger.warn(`Security changes: could not LISTEN (${errorMessage(error)}); retrying`);
      this.scheduleReconnect();
      throw error;
    }
  }

  private connect(): Promise<void> {
    this.connecting = this.openListener().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async openListener(): Promise<void> {
    const client = new pg.Client(this.clientConfig);
    // Registered first: pg emits 'error' on an idle client, and an unhandled one would crash the process.
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => this.onNotification(message));
    this.pending = client;
    try {
      await client.connect();
      // connectionTimeoutMillis covers the handshake only; a partition right after it would hang here.
      await withTimeout(client.query(`LISTEN ${SECURITY_CHANGES_PG_CHANNEL}`), this.connectTimeoutMs, 'LISTEN');
    } catch (error) {
      void discard(client);
      throw error;
    } finally {
      this.pending = undefined;
    }
    if (this.stopped) {
      await discard(client);
      return;
    }
    this.client = client;
    this.heartbeat.reset();
  }

  private lost(client: pg.Client, error?: Error): void {
    if (client !== this.client) return;
    this.client = undefined;
    void discard(client);
    if (this.stopped) return;
    this.logger.warn(
      `Security changes: lost the LISTEN connection (${error ? error.message : 'connection ended'}); reconnecting`,
    );
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const ceiling = Math.min(this.minReconnectDelayMs * 2 ** this.failedAttempts, this.maxReconnectDelayMs);
    // Half to all of it, so that instances do not all come back at the same moment.
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().then(
        () => {
          if (this.stopped) return;
          this.failedAttempts = 0;
          this.logger.log(`Security changes: listening on ${SECURITY_CHANGES_PG_CHANNEL} again`);
          this.resync();
        },
        () => {
          this.failedAttempts = Math.min(this.failedAttempts + 1, 30);
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.reconnectTimer.unref();
  }

  private onNotification(message: pg.Notification): void {
    if (message.channel !== SECURITY_CHANGES_PG_CHANNEL || this.stopped) return;
    const change = decodeSecurityChange(message.payload ?? '');
    if (!change) {
      this.logger.warn(`Security changes: ignored an invalid notification: ${truncate(message.payload ?? '')}`);
      return;
    }
    this.receive(change);
  }
}

/** Ends a client politely, or cuts it when the server does not answer within a second. Never rejects. */
async function discard(client: pg.Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.end().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, END_GRACE_MS);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
  client.connection.stream.destroy();
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} got no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function truncate(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}
