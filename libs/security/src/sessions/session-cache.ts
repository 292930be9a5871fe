import { LRUCache } from 'lru-cache';
import type { SecurityChangeBus } from '../changes/security-change.bus.js';
import type { Principal } from '../principals/principal.js';
import type { SessionRecord } from './session.store.js';

/** One cached session: its row (whose `lastSeenAt` this instance moves forward) and who it authenticates. */
export interface CachedSession {
  readonly session: SessionRecord;
  readonly principal: Principal;
  /** The principal is disabled: the session must end. */
  readonly disabled: boolean;
}

/** Options of `SessionCache`. */
export interface SessionCacheOptions {
  readonly bus: SecurityChangeBus;
  /** Most sessions kept, and most unknown token hashes remembered (default 10 000 each). */
  readonly max?: number;
  /** How long a loaded session is kept (default 30 s). */
  readonly ttlMs?: number;
  /** How long an unknown token hash is remembered (default 5 s). */
  readonly negativeTtlMs?: number;
}

/**
 * The bounded in-process cache of sessions by token hash, with a negative cache of unknown hashes.
 * Change broadcasts drop entries on every instance: one session on `session` (by session id, which the
 * cache maps back to its hash), a principal's sessions on `principal` (roles changed, disabled), and
 * everything on `role`, `all` or a resync. A load that raced with any invalidation is returned but not
 * cached, so an ended session is never put back by a stale read.
 */
export class SessionCache {
  private readonly entries: LRUCache<string, CachedSession>;
  private readonly unknown: LRUCache<string, true>;
  private readonly hashOfId = new Map<string, string>();
  private readonly ttlMs: number;
  private generation = 0;
  private readonly unsubscribe: Array<() => void>;

  constructor({ bus, max = 10_000, ttlMs = 30_000, negativeTtlMs = 5_000 }: SessionCacheOptions) {
    this.ttlMs = ttlMs;
    this.entries = new LRUCache<string, CachedSession>({
      max,
      ttl: ttlMs,
      // Keeps hashOfId exactly as large as what is cached.
      dispose: (entry, hash) => {
        if (this.hashOfId.get(entry.session.id) === hash) this.hashOfId.delete(entry.session.id);
      },
    });
    this.unknown = new LRUCache<string, true>({ max, ttl: negativeTtlMs });
    this.unsubscribe = [
      bus.subscribe((change) => {
        if (change.kind === 'session') this.forgetSession(change.id);
        else if (change.kind === 'principal') this.forgetPrincipal(change.id);
        else if (change.kind === 'role' || change.kind === 'all') this.forgetAll();
      }),
      bus.onResync(() => this.forgetAll()),
    ];
  }

  get(tokenHash: string): CachedSession | undefined {
    return this.entries.get(tokenHash);
  }

  /** The hash was looked up recently and no session had it. */
  isUnknown(tokenHash: string): boolean {
    return this.unknown.has(tokenHash);
  }

  /**
   * Runs `loader` and caches what it returns: an entry (for `ttlOf(entry)` ms, at most the cache's TTL),
   * `null` for a hash no session has (remembered as unknown), `undefined` for one that cannot be used now.
   */
  async load(
    tokenHash: string,
    loader: () => Promise<CachedSession | null | undefined>,
    ttlOf: (entry: CachedSession) => number,
  ): Promise<CachedSession | undefined> {
    const generation = this.generation;
    const entry = await loader();
    if (generation !== this.generation) return entry ?? undefined;
    if (entry === null) this.unknown.set(tokenHash, true);
    else if (entry !== undefined) {
      const ttl = Math.min(this.ttlMs, ttlOf(entry));
      if (ttl > 0) {
        this.entries.set(tokenHash, entry, { ttl });
        this.hashOfId.set(entry.session.id, tokenHash);
      }
    }
    return entry ?? undefined;
  }

  forgetSession(sessionId: string): void {
    this.generation++;
    const hash = this.hashOfId.get(sessionId.toLowerCase());
    if (hash !== undefined) this.entries.delete(hash);
  }

  forgetPrincipal(principalId: string): void {
    this.generation++;
    for (const [hash, entry] of this.entries.entries()) {
      if (entry.session.principalId === principalId.toLowerCase()) this.entries.delete(hash);
    }
  }

  forgetAll(): void {
    this.generation++;
    this.entries.clear();
    this.unknown.clear();
  }

  close(): void {
    for (const unsubscribe of this.unsubscribe) unsubscribe();
  }
}
