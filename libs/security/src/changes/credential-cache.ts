import { LRUCache } from 'lru-cache';
import type { SecurityChangeKind } from './security-change.js';
import type { SecurityChangeBus, SecurityChangeBusLogger } from './security-change.bus.js';

/** Options of `CredentialCache`. */
export interface CredentialCacheOptions {
  readonly bus: SecurityChangeBus;
  /** The change kind that names one of these credentials (`api-key`, `signing-key`). */
  readonly kind: SecurityChangeKind;
  /** Most entries kept, and most unknown ids remembered (default 10 000 each). */
  readonly max?: number;
  /** How long a loaded credential is served by `get` (default 30 s). */
  readonly ttlMs?: number;
  /**
   * How much longer than `ttlMs` an entry may be served when reloading it throws (the store is down);
   * default 0: never. Only `load` serves such a stale entry, never `get`.
   */
  readonly staleIfErrorMs?: number;
  /** How long an unknown id is remembered (default 5 s). */
  readonly negativeTtlMs?: number;
  /** Epoch milliseconds (default `Date.now`); a test clock in unit tests. */
  readonly now?: () => number;
  /** Where the start and end of serving stale entries is reported, once per outage (default `console`). */
  readonly logger?: SecurityChangeBusLogger;
}

interface Slot<E> {
  readonly entry: E;
  /** Served by `get` until then. */
  readonly freshUntil: number;
  /** Served by a failing `load` until then: fresh + stale window, never past the entry's own limit. */
  readonly staleUntil: number;
}

/**
 * The bounded in-process cache of credentials (API keys, signing keys) by id, with a negative cache of
 * unknown ids. Entries are dropped by change broadcasts: one credential by its `kind`, a principal's by
 * `principal`, everything by `role`, `all` and a resync of the bus. A load that raced with any
 * invalidation is returned but not cached, so a revocation can never be overwritten by a stale read.
 * With `staleIfErrorMs`, an entry past its TTL is kept that much longer, and only a reload that throws
 * falls back to it; every invalidation drops it like a fresh one. Call `close()` when the owner is destroyed.
 * @example
 * const cache = new CredentialCache<CachedKey>({ bus, kind: 'api-key' });
 * const entry = cache.isUnknown(id) ? undefined : (cache.get(id) ?? (await cache.load(id, () => loadKey(id))));
 */
export class CredentialCache<E extends { readonly record: { readonly principalId: string } }> {
  // No lru-cache TTL: each slot carries its own deadlines, so a stale slot outlives its freshness.
  private readonly known: LRUCache<string, Slot<E>>;
  private readonly unknown: LRUCache<string, true>;
  private readonly kind: SecurityChangeKind;
  private readonly ttlMs: number;
  private readonly staleIfErrorMs: number;
  private readonly now: () => number;
  private readonly logger: SecurityChangeBusLogger;
  // Bumped by every invalidation, so a load that raced with one is not cached.
  private generation = 0;
  // Whether a stale entry was served since the last load that worked: reported once per outage.
  private servingStale = false;
  private readonly unsubscribe: Array<() => void>;

  constructor({
    bus,
    kind,
    max = 10_000,
    ttlMs = 30_000,
    staleIfErrorMs = 0,
    negativeTtlMs = 5_000,
    now = Date.now,
    logger = console,
  }: CredentialCacheOptions) {
    this.kind = kind;
    this.ttlMs = ttlMs;
    this.staleIfErrorMs = Math.max(0, staleIfErrorMs);
    this.now = now;
    this.logger = logger;
    this.known = new LRUCache<string, Slot<E>>({ max });
    this.unknown = new LRUCache<string, true>({ max, ttl: negativeTtlMs });
    this.unsubscribe = [
      bus.subscribe((change) => {
        if (change.kind === kind) this.forgetOne(change.id);
        else if (change.kind === 'principal') this.forgetPrincipal(change.id);
        else if (change.kind === 'role' || change.kind === 'all') this.forgetAll();
      }),
      bus.onResync(() => this.forgetAll()),
    ];
  }

  /** The id was looked up recently and did not exist. */
  isUnknown(id: string): boolean {
    return this.unknown.has(id);
  }

  /** The entry while it is fresh (within its TTL); a stale one only ever comes from a failing `load`. */
  get(id: string): E | undefined {
    const slot = this.known.get(id);
    if (!slot) return undefined;
    const now = this.now();
    if (now < slot.freshUntil) return slot.entry;
    // Kept for the stale-if-error path while its window lasts, without refreshing its LRU position.
    if (now >= slot.staleUntil) this.known.delete(id);
    return undefined;
  }

  /**
   * Runs `loader` and caches what it returns: an entry (for the cache's TTL, and never beyond
   * `lifetimeOf(entry)` ms, e.g. a key's expiry; 0 or less: not cached), `null` for an id that does not
   * exist (remembered as unknown), or `undefined` for one that cannot be used now (not remembered).
   * When `loader` throws, the entry cached earlier for `id` is returned instead if its stale window
   * (`staleIfErrorMs` past its TTL, never past its lifetime) is still open; otherwise the error is rethrown.
   */
  async load(
    id: string,
    loader: () => Promise<E | null | undefined>,
    lifetimeOf?: (entry: E) => number,
  ): Promise<E | undefined> {
    const generation = this.generation;
    let entry: E | null | undefined;
    try {
      entry = await loader();
    } catch (error) {
      return this.staleOr(id, error);
    }
    if (this.servingStale) {
      this.servingStale = false;
      this.logger.log(`${this.kind} cache: the store answers again; no stale entries are served any more`);
    }
    if (generation !== this.generation) return entry ?? undefined;
    if (entry === null) {
      this.known.delete(id);
      this.unknown.set(id, true);
    } else if (entry === undefined) {
      this.known.delete(id);
    } else {
      const now = this.now();
      const lifetime = lifetimeOf ? lifetimeOf(entry) : Infinity;
      const freshMs = Math.min(this.ttlMs, lifetime);
      if (freshMs > 0) {
        const staleMs = Math.min(this.ttlMs + this.staleIfErrorMs, lifetime);
        this.known.set(id, { entry, freshUntil: now + freshMs, staleUntil: now + staleMs });
      } else {
        this.known.delete(id);
      }
    }
    return entry ?? undefined;
  }

  /** Drops one credential (after a change made here, before the broadcast comes back). */
  forgetOne(id: string): void {
    this.generation++;
    this.known.delete(id);
    this.unknown.delete(id);
  }

  forgetPrincipal(principalId: string): void {
    this.generation++;
    for (const [id, slot] of this.known.entries()) {
      if (slot.entry.record.principalId === principalId) this.known.delete(id);
    }
  }

  forgetAll(): void {
    this.generation++;
    this.known.clear();
    this.unknown.clear();
  }

  close(): void {
    for (const unsubscribe of this.unsubscribe) unsubscribe();
  }

  // An invalidation deletes the slot, so nothing this instance knows to be changed is ever served here.
  private staleOr(id: string, error: unknown): E {
    const slot = this.known.peek(id);
    const now = this.now();
    if (!slot || now >= slot.staleUntil) {
      if (slot) this.known.delete(id);
      throw error;
    }
    // A slot refreshed by a concurrent load meanwhile is not stale.
    if (now >= slot.freshUntil && !this.servingStale) {
      this.servingStale = true;
      this.logger.warn(
        `${this.kind} cache: the store does not answer (${messageOf(error)}); serving cached entries up to ${this.staleIfErrorMs} ms past their TTL`,
      );
    }
    return slot.entry;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
