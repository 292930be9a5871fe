import type { DataSource } from 'typeorm';
import { isUuid, UnknownPrincipalError } from '../../principals/principal.store.js';
import {
  assertSigningKeyMaterial,
  SigningKeyIdTakenError,
  SigningKeyStore,
  type NewSigningKey,
  type SigningKeyRecord,
} from '../signing-key.store.js';

interface SigningKeyRow {
  access_key_id: string;
  principal_id: string;
  algorithm: SigningKeyRecord['algorithm'];
  secret_ciphertext: string | null;
  master_key_version: string | null;
  public_key: string | null;
  name: string;
  created_at: Date;
  revoked_at: Date | null;
}

const COLUMNS =
  'access_key_id, principal_id, algorithm, secret_ciphertext, master_key_version, public_key, name, created_at, revoked_at';

/**
 * Signing keys in Postgres (`signing_keys`), with raw parameterised SQL: each mutation is one statement,
 * so it is atomic without a transaction and costs one round trip.
 */
export class TypeOrmSigningKeyStore extends SigningKeyStore {
  readonly kind = 'postgres';

  constructor(private readonly dataSource: DataSource) {
    super();
  }

  async create(key: NewSigningKey): Promise<SigningKeyRecord> {
    assertSigningKeyMaterial(key);
    if (!isUuid(key.principalId)) throw new UnknownPrincipalError(key.principalId);
    try {
      const rows: SigningKeyRow[] = await this.dataSource.query(
        `INSERT INTO signing_keys (access_key_id, principal_id, algorithm, secret_ciphertext, master_key_version,
           public_key, name, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8::timestamptz, now()))
         RETURNING ${COLUMNS}`,
        [
          key.accessKeyId,
          key.principalId,
          key.algorithm,
          key.secretCiphertext,
          key.masterKeyVersion,
          key.publicKey,
          key.name,
          key.createdAt ?? null,
        ],
      );
      return toRecord(rows[0]!);
    } catch (error) {
      throw translate(error, key);
    }
  }

  async findById(accessKeyId: string): Promise<SigningKeyRecord | null> {
    const rows: SigningKeyRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM signing_keys WHERE access_key_id = $1`,
      [accessKeyId],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async list(principalId?: string): Promise<SigningKeyRecord[]> {
    if (principalId !== undefined && !isUuid(principalId)) return [];
    const rows: SigningKeyRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM signing_keys
       WHERE ($1::uuid IS NULL OR principal_id = $1::uuid)
       ORDER BY created_at DESC, access_key_id COLLATE "C" DESC`,
      [principalId ?? null],
    );
    return rows.map(toRecord);
  }

  async revoke(accessKeyId: string, at: Date): Promise<boolean> {
    // COALESCE keeps the first revokedAt, so a repeated revoke changes nothing.
    const [, affected]: [unknown[], number] = await this.dataSource.query(
      `UPDATE signing_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE access_key_id = $1`,
      [accessKeyId, at],
    );
    return affected === 1;
  }

  async revokeAllOf(principalId: string, at: Date): Promise<string[]> {
    if (!isUuid(principalId)) return [];
    const [rows]: [Array<{ access_key_id: string }>, number] = await this.dataSource.query(
      `UPDATE signing_keys SET revoked_at = $2 WHERE principal_id = $1 AND revoked_at IS NULL RETURNING access_key_id`,
      [principalId, at],
    );
    return rows.map((row) => row.access_key_id).sort();
  }
}

function toRecord(row: SigningKeyRow): SigningKeyRecord {
  return {
    accessKeyId: row.access_key_id,
    principalId: row.principal_id,
    algorithm: row.algorithm,
    secretCiphertext: row.secret_ciphertext,
    masterKeyVersion: row.master_key_version,
    publicKey: row.public_key,
    name: row.name,
    createdAt: new Date(row.created_at),
    revokedAt: row.revoked_at && new Date(row.revoked_at),
  };
}

/** Maps the constraint violations callers can act on to coded errors; anything else is rethrown. */
function translate(error: unknown, key: NewSigningKey): unknown {
  const driverError = ((error as { driverError?: unknown } | null)?.driverError ?? error ?? {}) as {
    code?: string;
    constraint?: string;
  };
  if (driverError.code === '23505' && driverError.constraint === 'signing_keys_pkey') {
    return new SigningKeyIdTakenError(key.accessKeyId);
  }
  if (driverError.code === '23503' && driverError.constraint === 'signing_keys_principal_id_fkey') {
    return new UnknownPrincipalError(key.principalId);
  }
  return error;
}
