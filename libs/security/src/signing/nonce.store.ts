/**
 * The replay store of signed requests (also the DI token): remembers each signature's nonce for as long as
 * the signature could be accepted, so it is accepted once. `claim` is the one atomic call.
 * Adapters pass `describeNonceStoreContract`.
 * @example
 * if (!(await nonces.claim(`${scheme}:${keyId}:${replayId}`, 2 * maxClockSkewMs + 1_000))) refuse('replayed');
 */
export abstract class NonceStore {
  /** `memory` or `redis`, for health and logs. */
  abstract readonly kind: string;
  /**
   * True the first time `key` is claimed within `ttlMs` milliseconds, false for every later claim until
   * then; atomic, also between instances sharing the store. Rejects with a `TypeError` for an empty key or
   * a `ttlMs` that is not a positive integer, and with `SecurityStoreUnavailableError` when the store cannot
   * answer (the request is then refused, never accepted).
   */
  abstract claim(key: string, ttlMs: number): Promise<boolean>;
  /** Releases what the store owns (never a client it was given). */
  shutdown?(): Promise<void>;
}

/** Throws the `TypeError` `claim` rejects with for an invalid key or TTL. */
export function assertValidNonceClaim(key: string, ttlMs: number): void {
  if (typeof key !== 'string' || key === '') throw new TypeError('nonce store: the key is empty');
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) {
    throw new TypeError(`nonce store: ttlMs must be an integer >= 1, got ${ttlMs}`);
  }
}
