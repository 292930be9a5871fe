import { createHash } from 'node:crypto';
import { Clock, SystemClock } from '../../core/clock.js';
import { SecurityStoreUnavailableError } from '../../core/errors.js';
import { assertValidNonceClaim, NonceStore } from '../nonce.store.js';

/** Options of `MemoryNonceStore`. */
export interface MemoryNonceStoreOptions {
  /** At most this many unexpired nonces are kept; a claim beyond it is refused. Default 100 000. */
  maxKeys?: number;
  /** The time source of expiry; default the system clock. */
  clock?: Clock;
}

const DEFAULT_MAX_KEYS = 100_000;
/** Expired entries looked at from the oldest end on each claim, so memory follows traffic without a timer. */
const TRIM_PER_CLAIM = 4;

/**
 * Replay store of one process (tests, development, or a single instance without Redis): a claim runs
 * synchronously from the read to the write, so concurrent requests cannot both win.
 *
 * Bounded without timers: one Map of digest to expiry in insertion order. Each claim drops a few expired
 * entries from the oldest end; an expired entry found by a claim is replaced. Keys are stored as a SHA-256
 * digest (16 bytes), so a long client nonce costs no more memory than a short one. When `maxKeys` unexpired
 * nonces are held, a claim is refused with `SecurityStoreUnavailableError` rather than forgetting a live
 * nonce, which would let a captured request be replayed: the store fails closed.
 * @example
 * const nonces = new MemoryNonceStore({ maxKeys: 200_000, clock });
 * await nonces.claim('hmac-sha256:NASEXAMPLEKEYID00001:3f2a…', 601_000); // true, then false
 */
export class MemoryNonceStore extends NonceStore {
  readonly kind = 'memory';
  private readonly entries = new Map<string, number>();
  private readonly maxKeys: number;
  private readonly clock: Clock;
  /** No entry expires before this (set by a full sweep that freed nothing), so a full store is not re-swept. */
  private noExpiryBefore = 0;

  constructor({ maxKeys = DEFAULT_MAX_KEYS, clock = new SystemClock() }: MemoryNonceStoreOptions = {}) {
    super();
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) {
      throw new TypeError(`MemoryNonceStore: maxKeys must be an integer >= 1, got ${maxKeys}`);
    }
    this.maxKeys = maxKeys;
    this.clock = clock;
  }

  /** Number of nonces held (expired ones included until dropped). */
  get size(): number {
    return this.entries.size;
  }

  claim(key: string, ttlMs: number): Promise<boolean> {
    try {
      return Promise.resolve(this.claimNow(key, ttlMs));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  override async shutdown(): Promise<void> {
    this.entries.clear();
  }

  // Synchronous from the first read to the last write: this is what makes a claim atomic.
  private claimNow(key: string, ttlMs: number): boolean {
    assertValidNonceClaim(key, ttlMs);
    const now = this.clock.now();
    const digest = createHash('sha256').update(key).digest('base64').slice(0, 22);
    this.trim(now);
    const expiresAt = this.entries.get(digest);
    if (expiresAt !== undefined && expiresAt > now) return false;
    if (expiresAt !== undefined) this.entries.delete(digest);
    else if (this.entries.size >= this.maxKeys && !this.sweep(now)) {
      throw new SecurityStoreUnavailableError('nonce', Math.max(1, Math.ceil((this.noExpiryBefore - now) / 1000)));
    }
    this.entries.set(digest, now + ttlMs);
    return true;
  }

  private trim(now: number): void {
    let looked = 0;
    for (const [digest, expiresAt] of this.entries) {
      if (looked++ >= TRIM_PER_CLAIM || expiresAt > now) return;
      this.entries.delete(digest);
    }
  }

  /** Drops every expired entry; true when that made room. Skipped while nothing can have expired. */
  private sweep(now: number): boolean {
    if (now < this.noExpiryBefore) return false;
    let earliest = Number.POSITIVE_INFINITY;
    for (const [digest, expiresAt] of this.entries) {
      if (expiresAt <= now) this.entries.delete(digest);
      else if (expiresAt < earliest) earliest = expiresAt;
    }
    if (this.entries.size < this.maxKeys) return true;
    this.noExpiryBefore = earliest;
    return false;
  }
}
