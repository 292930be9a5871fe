/** Where a key may be used; part of the key text (`sk_live_...`, `sk_test_...`). */
export type ApiKeyEnvironment = 'live' | 'test';

/** A stored API key. Only a hash of its secret is kept. */
export interface ApiKeyRecord {
  /** 12 base62 characters: the public key id, also part of the key text. */
  id: string;
  principalId: string;
  name: string;
  environment: ApiKeyEnvironment;
  /** Lower-case hex of the secret's hash (see `hashVersion`). */
  secretHash: string;
  /** Which hash produced `secretHash` (pepper version, or plain SHA-256), so it can be upgraded on use. */
  hashVersion: string;
  /** Permissions the key is narrowed to; null carries all of its principal's permissions. */
  scopes: string[] | null;
  /** Source addresses the key is accepted from; null accepts any. */
  allowedCidrs: string[] | null;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  /** The key this one replaced by rotation. */
  rotatedFrom: string | null;
  lastUsedAt: Date | null;
  metadata: Record<string, unknown>;
}

/** What `ApiKeyStore.create` takes: a record without the fields the store manages (`createdAt` defaults to now). */
export type NewApiKey = Omit<ApiKeyRecord, 'createdAt' | 'revokedAt' | 'lastUsedAt'> & { createdAt?: Date };
