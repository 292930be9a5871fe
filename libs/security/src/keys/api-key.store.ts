import { SecurityError } from '../core/errors.js';
import type { ApiKeyRecord, NewApiKey } from './api-key.record.js';

/** Filter of `ApiKeyStore.list`. */
export interface ApiKeyListFilter {
  /** Only this principal's keys; every key when absent. */
  principalId?: string;
  /** Include revoked keys (default false). Expired keys are always listed. */
  includeRevoked?: boolean;
}

/** One use of a key, for `ApiKeyStore.recordUsage`. */
export interface ApiKeyUsage {
  id: string;
  at: Date;
}

/** What `ApiKeyStore.rotate` returns: the new key and the previous one with its shortened expiry. */
export interface ApiKeyRotation {
  created: ApiKeyRecord;
  previous: ApiKeyRecord;
}

/** `ApiKeyStore.create` (or `rotate`) was given an id that another key already has. */
export class ApiKeyIdTakenError extends SecurityError {
  override readonly code = 'ERR_SECURITY_KEY_ID_TAKEN';
  constructor(readonly keyId: string) {
    super('An API key with this id already exists', { keyId });
  }
}

/**
 * The port of API key persistence, and its DI token. Every mutation is atomic and returns what it
 * changed; adapters pass `describeApiKeyStoreContract`.
 */
export abstract class ApiKeyStore {
  /** Which adapter this is, for the boot log. */
  abstract readonly kind: string;

  /**
   * Stores a new key. Throws `ApiKeyIdTakenError` (`ERR_SECURITY_KEY_ID_TAKEN`) for a duplicate id and
   * `UnknownPrincipalError` (`ERR_SECURITY_UNKNOWN_PRINCIPAL`) when the principal does not exist.
   */
  abstract create(key: NewApiKey): Promise<ApiKeyRecord>;

  /** The key with this id, revoked or expired included; null when there is none. */
  abstract findById(id: string): Promise<ApiKeyRecord | null>;

  /** Keys, newest first (`createdAt`, then id, descending). */
  abstract list(filter?: ApiKeyListFilter): Promise<ApiKeyRecord[]>;

  /** Revokes a key; idempotent: revoking again keeps the first `revokedAt`. Null when unknown. */
  abstract revoke(id: string, at: Date): Promise<ApiKeyRecord | null>;

  /** Revokes every key of the principal still in force; returns the ids it revoked now, sorted. */
  abstract revokeAllForPrincipal(principalId: string, at: Date): Promise<string[]>;

  /**
   * Atomically creates `next` (its `rotatedFrom` set to `previousId`) and sets the previous key's
   * `expiresAt` to the earlier of its current value and `previousValidUntil` (never later). Returns
   * null, creating nothing, when the previous key does not exist, is revoked, or belongs to another
   * principal than `next`. A duplicate `next.id` throws `ApiKeyIdTakenError` and changes nothing.
   */
  abstract rotate(previousId: string, next: NewApiKey, previousValidUntil: Date): Promise<ApiKeyRotation | null>;

  /**
   * Compare-and-set of the secret hash, to upgrade the hash version when a key is used: replaces it
   * only if it still equals `expectedOldHash`. True when it did.
   */
  abstract updateHash(id: string, expectedOldHash: string, newHash: string, newVersion: string): Promise<boolean>;

  /** Records uses in one batch. `lastUsedAt` only moves forward; unknown ids are ignored. */
  abstract recordUsage(usages: ReadonlyArray<ApiKeyUsage>): Promise<void>;
}
