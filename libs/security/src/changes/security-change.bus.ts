import { randomUUID } from 'node:crypto';
import { parseSecurityChange, SECURITY_CHANGE_ORIGIN_MAX_LENGTH, type SecurityChange } from './security-change.js';

/** Where a bus reports lost and restored connections and failing listeners. `console` fits, so does Nest's `Logger`. */
export interface SecurityChangeBusLogger {
  log(message: string): void;
  warn(message: string): void;
}

/** What every adapter's constructor takes. */
export interface SecurityChangeBusOptions {
  /** Stamped as `origin` on what this bus publishes, at most 64 characters (default: a random uuid). */
  instanceId?: string;
  /** Default `console`. */
  logger?: SecurityChangeBusLogger;
}

/** Called with each change, once; the object is frozen and shared by every listener. */
export type SecurityChangeListener = (change: Readonly<SecurityChange>) => void;

interface Entry<T> {
  readonly listener: T;
}

/**
 * The port that carries security changes to every instance, so each drops what it cached about the
 * changed key, principal or role within a second. Also the DI token.
 *
 * Delivery is at most once per change and in publish order per publisher; an adapter that may have
 * missed messages (a reconnect, a failed poll) calls the `onResync` listeners instead, which must then
 * drop every cache.
 * @example
 * bus.subscribe((change) => cache.invalidate(change));
 * bus.onResync(() => cache.clear());
 * await bus.start();
 * await bus.publish({ kind: 'api-key', id: keyId });
 */
export abstract class SecurityChangeBus {
  /** Which adapter this is, for the boot log. */
  abstract readonly kind: string;
  /** This instance's id, the `origin` of every change it publishes. */
  readonly instanceId: string;
  protected readonly logger: SecurityChangeBusLogger;
  private readonly listeners = new Set<Entry<SecurityChangeListener>>();
  private readonly resyncListeners = new Set<Entry<() => void>>();

  constructor(options: SecurityChangeBusOptions = {}) {
    const { instanceId = randomUUID(), logger = console } = options;
    if (instanceId.length === 0 || instanceId.length > SECURITY_CHANGE_ORIGIN_MAX_LENGTH) {
      throw new TypeError(
        `SecurityChangeBus: instanceId must have 1 to ${SECURITY_CHANGE_ORIGIN_MAX_LENGTH} characters, got ${JSON.stringify(instanceId)}`,
      );
    }
    this.instanceId = instanceId;
    this.logger = logger;
  }

  /**
   * Sends a change to every instance. This instance's listeners get it before the returned promise
   * settles (synchronously in the adapters of this library), so the instance that made the change
   * never serves stale state; a rejection means only that other instances may not have got it.
   * Rejects without delivering anything when the change is invalid or the bus is stopped.
   */
  abstract publish(change: SecurityChange): Promise<void>;

  /** Calls `listener` with every change, published here or elsewhere, once each. Returns the unsubscribe function. */
  /**
   * Publishes and never rejects, for callers that already applied the change: a failure to reach the
   * other instances is logged; they drop their caches when their subscription resyncs, and cached
   * entries expire within their TTL in any case.
   */
  async announce(change: SecurityChange): Promise<void> {
    await this.publish(change).catch((error: unknown) =>
      this.logger.warn(`change ${change.kind} ${change.id} applied here but not broadcast: ${errorMessage(error)}`),
    );
  }

  subscribe(listener: SecurityChangeListener): () => void {
    return add(this.listeners, listener);
  }

  /** Calls `listener` whenever changes may have been missed; it must drop every cache. Returns the unsubscribe function. */
  onResync(listener: () => void): () => void {
    return add(this.resyncListeners, listener);
  }

  /** Connects and subscribes; changes published elsewhere are delivered from the moment it resolves. */
  abstract start(): Promise<void>;

  /** Stops delivery and releases every connection and timer the bus opened. */
  abstract stop(): Promise<void>;

  /** Validates a change to publish and stamps this instance as its origin; throws a TypeError when invalid. */
  protected stamp(change: SecurityChange): Readonly<SecurityChange> {
    const valid = parseSecurityChange({ kind: change?.kind, id: change?.id, origin: this.instanceId });
    if (!valid) {
      throw new TypeError(
        `SecurityChangeBus: invalid change ${JSON.stringify(change)} (kind one of the SecurityChangeKinds, id of 1 to 255 characters, '*' with kind 'all')`,
      );
    }
    return valid;
  }

  /**
   * What `publish` does once `change` is stamped, for an adapter with a transport: delivers it here,
   * then `send`s it to the other instances. When `send` fails it rejects with an error, prefixed by
   * `adapter`, that says the change was applied here but not sent; the transport's error is its cause.
   */
  protected async deliverAndSend(
    adapter: string,
    change: Readonly<SecurityChange>,
    send: () => Promise<unknown>,
  ): Promise<void> {
    this.deliver(change);
    try {
      await send();
    } catch (error) {
      throw new Error(
        `${adapter}: ${change.kind} ${change.id} was applied here but not sent to other instances: ${errorMessage(error)}`,
        { cause: error },
      );
    }
  }

  /** Calls every listener with `change`; one that throws is logged and the others still run. */
  protected deliver(change: Readonly<SecurityChange>): void {
    // A copy: a Set's iterator would also visit listeners subscribed during this delivery.
    for (const entry of Array.from(this.listeners)) {
      // One that unsubscribed while an earlier listener ran no longer wants it.
      if (!this.listeners.has(entry)) continue;
      try {
        entry.listener(change);
      } catch (error) {
        this.logger.warn(`Security change listener failed on ${change.kind} ${change.id}: ${errorMessage(error)}`);
      }
    }
  }

  /**
   * Delivers a change that came from the transport, unless it is invalid or this instance published
   * it (it was delivered when published). Returns whether it was delivered.
   */
  protected receive(value: unknown): boolean {
    const change = parseSecurityChange(value);
    if (!change || change.origin === this.instanceId) return false;
    this.deliver(change);
    return true;
  }

  /** Calls every resync listener; one that throws is logged and the others still run. */
  protected resync(): void {
    for (const entry of Array.from(this.resyncListeners)) {
      if (!this.resyncListeners.has(entry)) continue;
      try {
        entry.listener();
      } catch (error) {
        this.logger.warn(`Security change resync listener failed: ${errorMessage(error)}`);
      }
    }
  }
}

// Entries rather than the functions themselves, so one function subscribed twice is two subscriptions.
function add<T>(set: Set<Entry<T>>, listener: T): () => void {
  if (typeof listener !== 'function') throw new TypeError('SecurityChangeBus: a listener must be a function');
  const entry: Entry<T> = { listener };
  set.add(entry);
  return () => {
    set.delete(entry);
  };
}

/** An error's message, for logs. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
