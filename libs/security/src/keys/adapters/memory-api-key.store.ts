import { UnknownPrincipalError, type PrincipalStore } from '../../principals/principal.store.js';
import type { ApiKeyRecord, NewApiKey } from '../api-key.record.js';
import {
  ApiKeyIdTakenError,
  ApiKeyStore,
  type ApiKeyListFilter,
  type ApiKeyRotation,
  type ApiKeyUsage,
} from '../api-key.store.js';

/**
 * API keys in process memory, for tests and apps without a database. Given a `PrincipalStore`, it
 * refuses keys of unknown principals as the database's foreign key does; without one it accepts any.
 */
export class MemoryApiKeyStore extends ApiKeyStore {
  readonly kind = 'memory';
  private readonly keys = new Map<string, ApiKeyRecord>();

  constructor(private readonly principals?: PrincipalStore) {
    super();
  }

  async create(key: NewApiKey): Promise<ApiKeyRecord> {
    await this.assertPrincipal(key.principalId);
    // Nothing awaits between this check and the insert, so it is atomic.
    if (this.keys.has(key.id)) throw new ApiKeyIdTakenError(key.id);
    const record = toRecord(key);
    this.keys.set(record.id, record);
    return copy(record);
  }

  async findById(id: string): Promise<ApiKeyRecord | null> {
    const record = this.keys.get(id);
    return record ? copy(record) : null;
  }

  async list(filter: ApiKeyListFilter = {}): Promise<ApiKeyRecord[]> {
    const principalId = filter.principalId?.toLowerCase();
    return [...this.keys.values()]
      .filter((key) => principalId === undefined || key.principalId === principalId)
      .filter((key) => filter.includeRevoked || key.revokedAt === null)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || compare(b.id, a.id))
      .map(copy);
  }

  async revoke(id: string, at: Date): Promise<ApiKeyRecord | null> {
    const record = this.keys.get(id);
    if (!record) return null;
    record.revokedAt ??= new Date(at.getTime());
    return copy(record);
  }

  async revokeAllForPrincipal(principalId: string, at: Date): Promise<string[]> {
    const revoked: string[] = [];
    for (const record of this.keys.values()) {
      if (record.principalId !== principalId.toLowerCase() || record.revokedAt !== null) continue;
      record.revokedAt = new Date(at.getTime());
      revoked.push(record.id);
    }
    return revoked.sort();
  }

  async rotate(previousId: string, next: NewApiKey, previousValidUntil: Date): Promise<ApiKeyRotation | null> {
    const previous = this.keys.get(previousId);
    if (!previous || previous.revokedAt !== null || previous.principalId !== next.principalId.toLowerCase()) {
      return null;
    }
    if (this.keys.has(next.id)) throw new ApiKeyIdTakenError(next.id);
    const created = toRecord({ ...next, rotatedFrom: previous.id });
    if (previous.expiresAt === null || previous.expiresAt > previousValidUntil) {
      previous.expiresAt = new Date(previousValidUntil.getTime());
    }
    this.keys.set(created.id, created);
    return { created: copy(created), previous: copy(previous) };
  }

  async updateHash(id: string, expectedOldHash: string, newHash: string, newVersion: string): Promise<boolean> {
    const record = this.keys.get(id);
    if (!record || record.secretHash !== expectedOldHash) return false;
    record.secretHash = newHash;
    record.hashVersion = newVersion;
    return true;
  }

  async recordUsage(usages: ReadonlyArray<ApiKeyUsage>): Promise<void> {
    for (const { id, at } of usages) {
      const record = this.keys.get(id);
      if (record && (record.lastUsedAt === null || record.lastUsedAt < at)) record.lastUsedAt = new Date(at.getTime());
    }
  }

  private async assertPrincipal(principalId: string): Promise<void> {
    if (this.principals && !(await this.principals.findById(principalId))) {
      throw new UnknownPrincipalError(principalId);
    }
  }
}

function toRecord(key: NewApiKey): ApiKeyRecord {
  return copy({
    ...key,
    principalId: key.principalId.toLowerCase(),
    createdAt: key.createdAt ?? new Date(),
    revokedAt: null,
    lastUsedAt: null,
  });
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const dateCopy = (date: Date | null): Date | null => date && new Date(date.getTime());

function copy(record: ApiKeyRecord): ApiKeyRecord {
  return {
    id: record.id,
    principalId: record.principalId,
    name: record.name,
    environment: record.environment,
    secretHash: record.secretHash,
    hashVersion: record.hashVersion,
    scopes: record.scopes && [...record.scopes],
    allowedCidrs: record.allowedCidrs && [...record.allowedCidrs],
    createdAt: new Date(record.createdAt.getTime()),
    expiresAt: dateCopy(record.expiresAt),
    revokedAt: dateCopy(record.revokedAt),
    rotatedFrom: record.rotatedFrom,
    lastUsedAt: dateCopy(record.lastUsedAt),
    // A jsonb round trip: what Postgres would hand back.
    metadata: JSON.parse(JSON.stringify(record.metadata)) as Record<string, unknown>,
  };
}
