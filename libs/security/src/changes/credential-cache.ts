import { LRUCache } from 'lru-cache';
import type { SecurityChangeKind } from './security-change.js';
import type { SecurityChangeBus } from './security-change.bus.js';

/** Options of `CredentialCache`. */
export interface CredentialCacheOptions {
  readonly bus: SecurityChangeBus;
  /** The change kind that names one of these credentials (`api-key`, `signing-key`). */
  readonly kind: SecurityChangeKind;
  /** Most entries kept, and most unknown ids remembered (default 10 000 each). */
  readonly max?: number;
  /** How long a loaded credential is kept (default 30 s). */
  readonly ttlMs?: number;
  /** How long an unknown id is remembered (default 5 s). */
  readonly negativeTtlMs?: number;
}

/**
 * The bounded in-process cache of credentials (API keys, signing keys) by id, with a negative cache of
 * unknown ids. Entries are dropped by change broadcasts: one credential by its `kind`, a principal's by
 * `principal`, everything by `role`, `all` and a resync of the bus. A load that raced with any
 * invalidation is returned but not cached, so a revocation can never be overwritten by a stale read.
 * Call `close()` when the owner is destroyed.
 * @example
 * const cache = new CredentialCache<CachedKey>({ bus, kind: 'api-key' });
 * const entry = cache.isUnknown(id) ? undefined : (cache.get(id) ?? (await cache.load(id, () => loadKey(id))));
 */
export class CredentialCache<E extends { readonly record: { readonly principalId: string } }> {
  private readonly known: LRUCache<string, E>;
  private readonly unknown: LRUCache<string, true>;
  private readonly ttlMs: number;
  // Bumped by every invalidation, so a load that raced with one is not cached.
  private generation = 0;
  private readonly unsubscribe: Array<() => void>;

  constructor({ bus, kind, max = 10_000, ttlMs = 30_000, negativeTtlMs = 5_000 }: CredentialCacheOptions) {
    this.ttlMs = ttlMs;
    this.known = new LRUCache<string, E>({ max, ttl: ttlMs });
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

  get(id: string): E | undefined {
    return this.known.get(id);
  }

  /**
   * Runs `loader` and caches what it returns: an entry (for `ttlOf(entry)` ms, at most the cache's TTL;
   * 0 or less: not cached), `null` for an id that does not exist (remembered as unknown), or `undefined`
   * for one that cannot be used now (not remembered).
   */
  async load(
    id: string,
    loader: () => Promise<E | null | undefined>,
    ttlOf?: (entry: E) => number,
  ): Promise<E | undefined> {
    const generation = this.generation;
    const entry = await loader();
    if (generation !== this.generation) return entry ?? undefined;
    if (entry === null) this.unknown.set(id, true);
    else if (entry !== undefined) {
      const ttl = Math.min(this.ttlMs, ttlOf ? ttlOf(entry) : this.ttlMs);
      if (ttl > 0) this.known.set(id, entry, { ttl });
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
    for (const [id, entry] of this.known.entries()) {
      if (entry.record.principalId === principalId) this.known.delete(id);
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
}
