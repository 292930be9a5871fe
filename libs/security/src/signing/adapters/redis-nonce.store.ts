import type { Redis } from 'ioredis';
import { SecurityStoreUnavailableError } from '../../core/errors.js';
import { SECURITY_DEFAULTS } from '../../options/security-defaults.js';
import { assertValidNonceClaim, NonceStore } from '../nonce.store.js';
import { withTimeout } from '../../core/with-timeout.js';

/** Options of `RedisNonceStore`. */
export interface RedisNonceStoreOptions {
  /** Prepended to every key. Default `nas:nonce:` (the module's `redis.keyPrefix` + `nonce:`). */
  prefix?: string;
  /** A claim not answered within this many milliseconds rejects as store-unavailable. Default 1 000. */
  commandTimeoutMs?: number;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 1_000;

/**
 * Replay store shared by every instance: one `SET <prefix><key> 1 NX PX <ttlMs>` per claim, which Redis
 * runs atomically, so of any number of concurrent claims of one key, on any instances, exactly one wins.
 * Expiry is Redis's own (the TTL is relative), so instance clocks do not matter here.
 *
 * When Redis does not answer within `commandTimeoutMs` (or the client refuses the command, e.g. while
 * disconnected), `claim` rejects with `SecurityStoreUnavailableError`: the request is refused, never
 * accepted without its replay check. The client is the caller's (for example the module's shared one) and
 * is not closed by this store.
 * @example
 * const nonces = new RedisNonceStore(redis, { prefix: 'api:nonce:' });
 */
export class RedisNonceStore extends NonceStore {
  readonly kind = 'redis';
  /** Prepended to every key. */
  readonly prefix: string;
  private readonly commandTimeoutMs: number;

  constructor(
    private readonly client: Redis,
    {
      prefix = `${SECURITY_DEFAULTS.redisKeyPrefix}nonce:`,
      commandTimeoutMs = DEFAULT_COMMAND_TIMEOUT_MS,
    }: RedisNonceStoreOptions = {},
  ) {
    super();
    if (!Number.isSafeInteger(commandTimeoutMs) || commandTimeoutMs < 1) {
      throw new TypeError(`RedisNonceStore: commandTimeoutMs must be an integer >= 1, got ${commandTimeoutMs}`);
    }
    this.prefix = prefix;
    this.commandTimeoutMs = commandTimeoutMs;
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    assertValidNonceClaim(key, ttlMs);
    let reply: string | null;
    try {
      reply = await this.withTimeout(this.client.set(`${this.prefix}${key}`, '1', 'PX', ttlMs, 'NX'));
    } catch (error) {
      throw new SecurityStoreUnavailableError('nonce', 1, { cause: error });
    }
    return reply === 'OK';
  }

  private withTimeout<T>(promise: Promise<T>): Promise<T> {
    return withTimeout(promise, this.commandTimeoutMs, `no answer from Redis within ${this.commandTimeoutMs} ms`);
  }
}
