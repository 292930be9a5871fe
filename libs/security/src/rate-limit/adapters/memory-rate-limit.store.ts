import {
  slidingWindowAll,
  stateExpiresAt,
  type SlidingWindowInput,
  type SlidingWindowState,
} from '../core/sliding-window.js';
import {
  assertValidRateLimitChecks,
  RateLimitStore,
  type RateLimitCheck,
  type RateLimitDecision,
} from '../rate-limit.store.js';

/** Options of `MemoryRateLimitStore`. */
export interface MemoryRateLimitStoreOptions {
  /** At most this many keys are kept; beyond it the least recently used key is dropped. Default 100 000. */
  maxKeys?: number;
  /** How often expired keys are swept (one `unref()`'d interval per store); 0 switches it off. Default 60 s. */
  sweepIntervalMs?: number;
}

interface Entry {
  readonly state: SlidingWindowState;
  /** When the state stops mattering (both windows over, block ended), in the callers' clock. */
  readonly expiresAt: number;
}

const DEFAULT_MAX_KEYS = 100_000;
const DEFAULT_SWEEP_INTERVAL_MS = 60_000;

/**
 * In-process rate-limit store for a single instance (tests, development, or when no Redis is
 * configured). `consume` runs synchronously from reading to writing, so concurrent requests of this
 * process cannot interleave inside a decision; nothing is shared between processes.
 *
 * Memory is bounded without a timer per request: one Map in least-recently-used order (an entry is
 * re-inserted when written), at most `maxKeys` entries; an expired entry is dropped when it is next
 * read, the least recently used ones when the Map is full, and one `unref()`'d interval sweeps expired
 * entries. Expiry is judged with the latest `now` a caller passed, so an injected clock drives it.
 *
 * Not express-rate-limit's two Map generations swapped every window: that works when every key
 * shares one window, but here policies have different windows and blocks (a 1 h block would be lost
 * after two swaps of a 60 s generation), so each entry carries its own expiry instead.
 * Evicting a live key under memory pressure resets that key's counters; size `maxKeys` so that the
 * number of trackers active within the longest window fits.
 * @example
 * const store = new MemoryRateLimitStore({ maxKeys: 50_000 });
 * const [decision] = await store.consume([{ key: 'ip:203.0.113.7', limit: 100, windowMs: 60_000 }], Date.now());
 */
export class MemoryRateLimitStore extends RateLimitStore {
  readonly kind = 'memory';
  private readonly entries = new Map<string, Entry>();
  private readonly maxKeys: number;
  private readonly sweepIntervalMs: number;
  private sweeper: NodeJS.Timeout | undefined;
  private latestNow = 0;
  private stopped = false;

  constructor({
    maxKeys = DEFAULT_MAX_KEYS,
    sweepIntervalMs = DEFAULT_SWEEP_INTERVAL_MS,
  }: MemoryRateLimitStoreOptions = {}) {
    super();
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) {
      throw new TypeError(`MemoryRateLimitStore: maxKeys must be an integer >= 1, got ${maxKeys}`);
    }
    if (!Number.isSafeInteger(sweepIntervalMs) || sweepIntervalMs < 0) {
      throw new TypeError(`MemoryRateLimitStore: sweepIntervalMs must be an integer >= 0, got ${sweepIntervalMs}`);
    }
    this.maxKeys = maxKeys;
    this.sweepIntervalMs = sweepIntervalMs;
  }

  /** Number of keys held (expired ones included until swept or read). */
  get size(): number {
    return this.entries.size;
  }

  consume(checks: readonly RateLimitCheck[], now: number): Promise<RateLimitDecision[]> {
    try {
      return Promise.resolve(this.consumeNow(checks, now));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /** Drops expired entries (as of the latest `now` seen). The interval calls it; tests may too. */
  sweep(): void {
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt <= this.latestNow) this.entries.delete(key);
    }
  }

  override async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.entries.clear();
  }

  // Synchronous from the first read to the last write: this is what makes a decision atomic.
  private consumeNow(checks: readonly RateLimitCheck[], now: number): RateLimitDecision[] {
    assertValidRateLimitChecks(checks, now);
    this.startSweeper();
    if (now > this.latestNow) this.latestNow = now;
    const inputs: SlidingWindowInput[] = checks.map((check) => ({
      state: this.read(check.key, now),
      now,
      limit: check.limit,
      windowMs: check.windowMs,
      cost: check.cost ?? 1,
      blockMs: check.blockMs ?? 0,
    }));
    const results = slidingWindowAll(inputs);
    // Refused requests consume nothing: then only a newly started block is written.
    const consumed = results.every((result) => result.allowed);
    return results.map((result, i) => {
      const check = checks[i]!;
      if (consumed || result.state.blockedUntil !== (inputs[i]!.state?.blockedUntil ?? 0)) {
        this.write(check.key, result.state, check.windowMs);
      }
      return {
        key: check.key,
        allowed: result.allowed,
        limit: check.limit,
        remaining: result.remaining,
        resetMs: result.resetMs,
        retryAfterMs: result.retryAfterMs,
      };
    });
  }

  private read(key: string, now: number): SlidingWindowState | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.state;
  }

  private write(key: string, state: SlidingWindowState, windowMs: number): void {
    this.entries.delete(key);
    this.entries.set(key, { state, expiresAt: stateExpiresAt(state, windowMs) });
    // Map iteration is insertion order, so the first key is the least recently written.
    while (this.entries.size > this.maxKeys) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  private startSweeper(): void {
    if (this.sweeper || this.stopped || this.sweepIntervalMs === 0) return;
    this.sweeper = setInterval(() => this.sweep(), this.sweepIntervalMs);
    this.sweeper.unref();
  }
}
