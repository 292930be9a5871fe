import { UnknownPrincipalError, type PrincipalStore } from '../../principals/principal.store.js';
import {
  assertSigningKeyMaterial,
  SigningKeyIdTakenError,
  SigningKeyStore,
  type NewSigningKey,
  type SigningKeyRecord,
} from '../signing-key.store.js';

/**
 * Signing keys in process memory, for tests and apps without a database. Given a `PrincipalStore`, it
 * refuses keys of unknown principals as the database's foreign key does; without one it accepts any.
 */
export class MemorySigningKeyStore extends SigningKeyStore {
  readonly kind = 'memory';
  private readonly keys = new Map<string, SigningKeyRecord>();

  constructor(private readonly principals?: PrincipalStore) {
    super();
  }

  async create(key: NewSigningKey): Promise<SigningKeyRecord> {
    assertSigningKeyMaterial(key);
    if (this.principals && !(await this.principals.findById(key.principalId))) {
      throw new UnknownPrincipalError(key.principalId);
    }
    // Nothing awaits between this check and the insert, so it is atomic.
    if (this.keys.has(key.accessKeyId)) throw new SigningKeyIdTakenError(key.accessKeyId);
    const record: SigningKeyRecord = copy({
      ...key,
      principalId: key.principalId.toLowerCase(),
      createdAt: key.createdAt ?? new Date(),
      revokedAt: null,
    });
    this.keys.set(record.accessKeyId, record);
    return copy(record);
  }

  async findById(accessKeyId: string): Promise<SigningKeyRecord | null> {
    const record = this.keys.get(accessKeyId);
    return record ? copy(record) : null;
  }

  async list(principalId?: string): Promise<SigningKeyRecord[]> {
    const owner = principalId?.toLowerCase();
    return [...this.keys.values()]
      .filter((key) => owner === undefined || key.principalId === owner)
      .sort(
        (a, b) =>
          b.createdAt.getTime() - a.createdAt.getTime() ||
          (a.accessKeyId < b.accessKeyId ? 1 : a.accessKeyId > b.accessKeyId ? -1 : 0),
      )
      .map(copy);
  }

  async revoke(accessKeyId: string, at: Date): Promise<boolean> {
    const record = this.keys.get(accessKeyId);
    if (!record) return false;
    record.revokedAt ??= new Date(at.getTime());
    return true;
  }

  async revokeAllOf(principalId: string, at: Date): Promise<string[]> {
    const revoked: string[] = [];
    for (const record of this.keys.values()) {
      if (record.principalId !== principalId.toLowerCase() || record.revokedAt !== null) continue;
      record.revokedAt = new Date(at.getTime());
      revoked.push(record.accessKeyId);
    }
    return revoked.sort();
  }
}

function copy(record: SigningKeyRecord): SigningKeyRecord {
  return {
    accessKeyId: record.accessKeyId,
    principalId: record.principalId,
    algorithm: record.algorithm,
    secretCiphertext: record.secretCiphertext,
    masterKeyVersion: record.masterKeyVersion,
    publicKey: record.publicKey,
    name: record.name,
    createdAt: new Date(record.createdAt.getTime()),
    revokedAt: record.revokedAt && new Date(record.revokedAt.getTime()),
  };
}
