import { Redis, type RedisOptions } from 'ioredis';
import { SECURITY_DEFAULTS } from '../../options/security-defaults.js';
import { decodeSecurityChange, type SecurityChange } from '../security-change.js';
import { errorMessage, SecurityChangeBus, type SecurityChangeBusOptions } from '../security-change.bus.js';
import { Heartbeat } from './heartbeat.js';

/** Options of `RedisSecurityChangeBus`: a URL (the bus owns its two connections) or a client to share. */
export type RedisSecurityChangeBusOptions = SecurityChangeBusOptions & {
  /** The channel is `<keyPrefix>security-changes` (default `nas:`, the module's `redis.keyPrefix`). */
  keyPrefix?: string;
  /**
   * Every that many milliseconds the subscriber connection is pinged; one ping still unanswered at the
   * next beat means a silent network partition, and the connection is dropped and re-established
   * (then `onResync`). 0 switches it off. Default 10 s.
   */
  heartbeatIntervalMs?: number;
} & (
    | {
        /** `redis://` URL: the bus opens a publisher and a subscriber connection and closes both in `stop()`. */
        url: string;
      }
    | {
        /**
         * A connected client to publish with (not closed by `stop()`); the subscriber connection is its
         * `duplicate()`, owned by the bus.
         */
        client: Redis;
      }
  );

/** Suffix of the pub/sub channel, after the key prefix. */
export const SECURITY_CHANGES_REDIS_CHANNEL = 'security-changes';

const DEFAULT_HEARTBEAT_MS = 10_000;
/** Changes kept for sending again after failed publishes; beyond this, one `all` replaces them. */
const MAX_UNSENT = 100;
const CONNECT_TIMEOUT_MS = 2_000;
const MAX_RECONNECT_DELAY_MS = 1_000;

// A subscriber must never give up, whatever the shared client's strategy; and it resubscribes itself
// (not ioredis's autoResubscribe) so that it knows when the subscription is back and can resync.
const SUBSCRIBER_OPTIONS: Partial<RedisOptions> = {
  lazyConnect: true,
  autoResubscribe: false,
  enableOfflineQueue: false,
  maxRetriesPerRequest: null,
  retryStrategy: (times) => Math.min(times * 50, MAX_RECONNECT_DELAY_MS),
};

/**
 * Redis pub/sub bus on channel `<keyPrefix>security-changes`. Messages are JSON, validated on receipt
 * (invalid ones are logged and dropped); a change published here is delivered here once, when
 * published, and skipped when it comes back from Redis.
 *
 * Pub/sub keeps nothing: an instance whose subscription is down misses what is published meanwhile,
 * which is why every resubscription after the first calls `onResync`. `publish` rejects when Redis is
 * unreachable (after at most about 2 s with a bus-owned connection, at once with the module's shared
 * client, which has no offline queue): the change was applied and delivered locally; the caller should
 * log the rejection, not fail the request. The bus keeps such changes (up to 100, else one `all`) and
 * sends them again as soon as Redis answers it (its subscription is back, its publisher reconnected, or a
 * later publish went through), so instances that stayed subscribed while this one was cut off get them
 * too, late; a change sent twice only drops a cache entry twice.
 * @example
 * const bus = new RedisSecurityChangeBus({ url: 'redis://127.0.0.1:6379', keyPrefix: 'nas:' });
 * await bus.start();
 */
export class RedisSecurityChangeBus extends SecurityChangeBus {
  readonly kind = 'redis';
  /** The pub/sub channel. */
  readonly channel: string;
  private readonly publisher: Redis;
  private readonly ownsPublisher: boolean;
  private readonly subscriber: Redis;
  private readonly heartbeat: Heartbeat<Redis>;
  private starting: Promise<void> | undefined;
  private startSettled = false;
  private subscribed = false;
  private everSubscribed = false;
  private stopped = false;
  private lastError: string | undefined;
  private readonly firstSubscription: Deferred = deferred();
  /** Changes whose publish failed, oldest first, to send again once Redis answers. */
  private unsent: Array<Readonly<SecurityChange>> = [];
  private resending = false;
  private readonly onPublisherReady = () => void this.resendUnsent();

  constructor(options: RedisSecurityChangeBusOptions) {
    super(options);
    const { keyPrefix = SECURITY_DEFAULTS.redisKeyPrefix, heartbeatIntervalMs = DEFAULT_HEARTBEAT_MS } = options;
    if (!Number.isInteger(heartbeatIntervalMs) || heartbeatIntervalMs < 0) {
      throw new TypeError(
        `RedisSecurityChangeBus: heartbeatIntervalMs must be an integer >= 0, got ${heartbeatIntervalMs}`,
      );
    }
    this.channel = `${keyPrefix}${SECURITY_CHANGES_REDIS_CHANNEL}`;
    if ('client' in options && options.client) {
      this.publisher = options.client;
      this.ownsPublisher = false;
    } else {
      this.publisher = new Redis((options as { url: string }).url, {
        lazyConnect: true,
        connectTimeout: CONNECT_TIMEOUT_MS,
        commandTimeout: CONNECT_TIMEOUT_MS,
        // Queued while (re)connecting, but failed after two attempts instead of held through an outage.
        maxRetriesPerRequest: 1,
        retryStrategy: (times) => Math.min(times * 50, MAX_RECONNECT_DELAY_MS),
      });
      this.ownsPublisher = true;
      // Without a listener ioredis prints every failed reconnection; publish rejections carry the error.
      this.publisher.on('error', () => {});
    }
    this.subscriber = this.publisher.duplicate({
      ...SUBSCRIBER_OPTIONS,
      connectTimeout: this.ownsPublisher ? CONNECT_TIMEOUT_MS : this.publisher.options.connectTimeout,
    });
    this.subscriber.on('error', (error: Error) => (this.lastError = error.message));
    this.subscriber.on('ready', () => this.onReady());
    this.subscriber.on('close', () => this.onClose());
    this.subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    this.publisher.on('ready', this.onPublisherReady);
    this.heartbeat = new Heartbeat(heartbeatIntervalMs, {
      current: () => (this.subscribed && !this.stopped ? this.subscriber : undefined),
      ping: (subscriber) => subscriber.ping(),
      silent: (subscriber) => {
        this.lastError = `no answer to a ping within ${heartbeatIntervalMs} ms`;
        // disconnect() would end the socket politely and wait for a peer that no longer answers.
        subscriber.stream?.destroy();
      },
    });
    // start() awaits it; nobody may if stop() comes first.
    this.firstSubscription.promise.catch(() => {});
  }

  async publish(change: SecurityChange): Promise<void> {
    const stamped = this.stamp(change);
    if (this.stopped) throw new Error('RedisSecurityChangeBus: publish after stop()');
    try {
      await this.deliverAndSend('RedisSecurityChangeBus', stamped, () => this.send(stamped));
    } catch (error) {
      this.keepUnsent(stamped);
      throw error;
    }
    void this.resendUnsent();
  }

  /**
   * Connects and subscribes. Rejects when the first connection attempt fails; the bus then keeps
   * reconnecting and calls `onResync` once subscribed (call `stop()` in any case).
   */
  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.heartbeat.stop();
    this.publisher.off('ready', this.onPublisherReady);
    if (this.unsent.length > 0) {
      this.logger.warn(`Security changes: stopped with ${this.unsent.length} change(s) never sent to other instances`);
    }
    this.firstSubscription.reject(new Error('RedisSecurityChangeBus: stopped before it subscribed'));
    await Promise.all([close(this.subscriber), this.ownsPublisher ? close(this.publisher) : undefined]);
  }

  private async doStart(): Promise<void> {
    if (this.stopped) throw new Error('RedisSecurityChangeBus: start after stop()');
    this.heartbeat.start();
    try {
      await Promise.all([
        this.subscriber.connect(),
        this.ownsPublisher && this.publisher.status === 'wait' ? this.publisher.connect() : undefined,
      ]);
      await this.firstSubscription.promise;
    } finally {
      this.startSettled = true;
    }
  }

  private onReady(): void {
    if (this.stopped) return;
    this.subscriber.subscribe(this.channel).then(
      () => {
        if (this.stopped || this.subscriber.status !== 'ready') return;
        this.subscribed = true;
        this.heartbeat.reset();
        // Not the subscription start() is waiting for: messages may have been missed meanwhile.
        const missed = this.everSubscribed || this.startSettled;
        if (this.everSubscribed) this.logger.log(`Security changes: resubscribed to Redis channel ${this.channel}`);
        this.everSubscribed = true;
        this.firstSubscription.resolve();
        if (missed) this.resync();
        void this.resendUnsent();
      },
      // The connection dropped again; the next 'ready' subscribes.
      (error: unknown) =>
        this.logger.warn(`Security changes: could not subscribe to ${this.channel}: ${errorMessage(error)}`),
    );
  }

  private send(change: Readonly<SecurityChange>): Promise<number> {
    return this.publisher.publish(this.channel, JSON.stringify(change));
  }

  private keepUnsent(change: Readonly<SecurityChange>): void {
    if (this.stopped) return;
    if (change.kind === 'all' || this.unsent.length >= MAX_UNSENT) {
      // Every cache everywhere is dropped anyway: the rest need not be sent.
      this.unsent = [Object.freeze({ kind: 'all', id: '*', origin: this.instanceId })];
    } else if (this.unsent[0]?.kind !== 'all') {
      this.unsent.push(change);
    }
  }

  /** Sends the changes whose publish failed, in order; stops at the first failure and keeps the rest. */
  private async resendUnsent(): Promise<void> {
    if (this.resending || this.stopped || this.unsent.length === 0) return;
    this.resending = true;
    let sent = 0;
    try {
      while (this.unsent.length > 0 && !this.stopped) {
        const next = this.unsent[0]!;
        await this.send(next);
        // A failure meanwhile may have replaced the list with one `all`: that one is still to send.
        if (this.unsent[0] === next) this.unsent.shift();
        sent++;
      }
    } catch {
      // Still unreachable: the next sign of Redis answering tries again.
    } finally {
      this.resending = false;
      if (sent > 0) this.logger.log(`Security changes: sent ${sent} change(s) that could not be broadcast earlier`);
    }
  }

  private onClose(): void {
    if (this.subscribed && !this.stopped) {
      this.logger.warn(
        `Security changes: lost the Redis subscription to ${this.channel} (${this.lastError ?? 'connection closed'}); reconnecting`,
      );
    }
    this.subscribed = false;
    this.lastError = undefined;
  }

  private onMessage(channel: string, message: string): void {
    if (channel !== this.channel || this.stopped) return;
    const change = decodeSecurityChange(message);
    if (!change) {
      this.logger.warn(`Security changes: ignored an invalid message on ${channel}: ${truncate(message)}`);
      return;
    }
    this.receive(change);
  }
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

async function close(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // fall through
    }
  }
  client.disconnect();
}

function truncate(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}
