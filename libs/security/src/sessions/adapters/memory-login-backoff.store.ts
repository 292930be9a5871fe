import { LRUCache } from 'lru-cache';
import {
  decideLoginAttempt,
  type LoginAttemptDecision,
  type LoginBackoffEntry,
  type LoginBackoffPolicy,
} from '../core/login-backoff.js';
import { LoginBackoffStore } from '../login-backoff.store.js';

/** Options of `MemoryLoginBackoffStore`. */
export interface MemoryLoginBackoffStoreOptions {
  /** Most pairs kept; the least recently used goes first (default 100 000). */
  readonly maxKeys?: number;
}

/**
 * Backoff state in process memory (per instance), bounded by `maxKeys`. Entries carry their own expiry,
 * read against the caller's clock; an evicted pair simply starts again from zero, which needs 100 000
 * other pairs in between: far more logins than the login rate limit lets one client make.
 */
export class MemoryLoginBackoffStore extends LoginBackoffStore {
  readonly kind = 'memory';
  private readonly entries: LRUCache<string, LoginBackoffEntry>;

  constructor({ maxKeys = 100_000 }: MemoryLoginBackoffStoreOptions = {}) {
    super();
    this.entries = new LRUCache({ max: maxKeys });
  }

  async attempt(key: string, now: number, policy: LoginBackoffPolicy): Promise<LoginAttemptDecision> {
    const { decision, next } = decideLoginAttempt(this.entries.get(key), now, policy);
    if (next) this.entries.set(key, next);
    else this.entries.delete(key);
    return decision;
  }

  async reset(key: string): Promise<void> {
    this.entries.delete(key);
  }

  /** Pairs currently kept (for tests of the bound). */
  get size(): number {
    return this.entries.size;
  }
}
