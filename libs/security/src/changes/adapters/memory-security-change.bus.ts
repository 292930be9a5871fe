import type { SecurityChange } from '../security-change.js';
import { SecurityChangeBus, type SecurityChangeBusOptions } from '../security-change.bus.js';

type Receiver = (change: Readonly<SecurityChange>) => void;

/**
 * What several in-process buses share to behave like instances of one deployment (tests, or several
 * apps in one process). Each started bus joins it; a change published on one reaches the others.
 */
export class MemorySecurityChangeHub {
  private readonly receivers = new Set<Receiver>();

  /** Started buses currently attached. */
  get size(): number {
    return this.receivers.size;
  }

  /** @internal Attaches a bus; returns the detach function. */
  join(receiver: Receiver): () => void {
    this.receivers.add(receiver);
    return () => {
      this.receivers.delete(receiver);
    };
  }

  /** @internal Hands `change` to every attached bus but `from`. */
  broadcast(from: Receiver | undefined, change: Readonly<SecurityChange>): void {
    // A copy, so that a bus started by a listener during this broadcast does not get it.
    for (const receiver of Array.from(this.receivers)) if (receiver !== from) receiver(change);
  }
}

/** Options of `MemorySecurityChangeBus`. */
export interface MemorySecurityChangeBusOptions extends SecurityChangeBusOptions {
  /** Buses that share a hub see each other's changes (default: a hub of its own, so in-process only). */
  hub?: MemorySecurityChangeHub;
}

/**
 * In-process bus: for a single instance, or for tests where buses sharing a `MemorySecurityChangeHub`
 * stand for instances. Delivery to the other buses is synchronous; nothing is ever missed, so it
 * never resyncs.
 * @example
 * const hub = new MemorySecurityChangeHub();
 * const a = new MemorySecurityChangeBus({ hub });
 * const b = new MemorySecurityChangeBus({ hub });
 */
export class MemorySecurityChangeBus extends SecurityChangeBus {
  readonly kind = 'memory';
  private readonly hub: MemorySecurityChangeHub;
  private readonly receiver: Receiver = (change) => this.receive(change);
  private leave: (() => void) | undefined;
  private stopped = false;

  constructor(options: MemorySecurityChangeBusOptions = {}) {
    super(options);
    this.hub = options.hub ?? new MemorySecurityChangeHub();
  }

  async publish(change: SecurityChange): Promise<void> {
    const stamped = this.stamp(change);
    if (this.stopped) throw new Error('MemorySecurityChangeBus: publish after stop()');
    this.deliver(stamped);
    this.hub.broadcast(this.receiver, stamped);
  }

  async start(): Promise<void> {
    if (this.stopped) throw new Error('MemorySecurityChangeBus: start after stop()');
    this.leave ??= this.hub.join(this.receiver);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.leave?.();
    this.leave = undefined;
  }
}
