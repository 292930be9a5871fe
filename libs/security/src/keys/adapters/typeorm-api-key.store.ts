import type { DataSource } from 'typeorm';
import { isUuid, UnknownPrincipalError } from '../../principals/principal.store.js';
import type { ApiKeyRecord, NewApiKey } from '../api-key.record.js';
import {
  ApiKeyIdTakenError,
  ApiKeyStore,
  type ApiKeyListFilter,
  type ApiKeyRotation,
  type ApiKeyUsage,
} from '../api-key.store.js';

interface ApiKeyRow {
  id: string;
  principal_id: string;
  name: string;
  environment: ApiKeyRecord['environment'];
  secret_hash: string;
  hash_version: string;
  scopes: string[] | null;
  allowed_cidrs: string[] | null;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  rotated_from: string | null;
  last_used_at: Date | null;
  metadata: Record<string, unknown>;
}

const COLUMNS =
  'id, principal_id, name, environment, secret_hash, hash_version, scopes, allowed_cidrs, created_at, expires_at, ' +
  'revoked_at, rotated_from, last_used_at, metadata';

/**
 * API keys in Postgres, with raw parameterised SQL: each mutation is one statement that returns the
 * rows it wrote, so it is atomic without a transaction and costs one round trip.
 */
export class TypeOrmApiKeyStore extends ApiKeyStore {
  readonly kind = 'postgres';

  constructor(private readonly dataSource: DataSource) {
    super();
  }

  async create(key: NewApiKey): Promise<ApiKeyRecord> {
    if (!isUuid(key.principalId)) throw new UnknownPrincipalError(key.principalId);
    try {
      const rows: ApiKeyRow[] = await this.dataSource.query(
        `INSERT INTO api_keys (id, principal_id, name, environment, secret_hash, hash_version, scopes, allowed_cidrs,
           created_at, expires_at, rotated_from, metadata)
         VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8::text[], COALESCE($9::timestamptz, now()), $10, $11, $12)
         RETURNING ${COLUMNS}`,
        [
          key.id,
          key.principalId,
          key.name,
          key.environment,
          key.secretHash,
          key.hashVersion,
          key.scopes,
          key.allowedCidrs,
          key.createdAt ?? null,
          key.expiresAt,
          key.rotatedFrom,
          JSON.stringify(key.metadata),
        ],
      );
      return toRecord(rows[0]!);
    } catch (error) {
      throw translate(error, key);
    }
  }

  async findById(id: string): Promise<ApiKeyRecord | null> {
    const rows: ApiKeyRow[] = await this.dataSource.query(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async list(filter: ApiKeyListFilter = {}): Promise<ApiKeyRecord[]> {
    if (filter.principalId !== undefined && !isUuid(filter.principalId)) return [];
    const rows: ApiKeyRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM api_keys
       WHERE ($1::uuid IS NULL OR principal_id = $1::uuid) AND ($2 OR revoked_at IS NULL)
       ORDER BY created_at DESC, id COLLATE "C" DESC`,
      [filter.principalId ?? null, filter.includeRevoked ?? false],
    );
    return rows.map(toRecord);
  }

  async revoke(id: string, at: Date): Promise<ApiKeyRecord | null> {
    // COALESCE keeps the first revokedAt, so a repeated revoke changes nothing.
    const [rows]: [ApiKeyRow[], number] = await this.dataSource.query(
      `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, at],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async revokeAllForPrincipal(principalId: string, at: Date): Promise<string[]> {
    if (!isUuid(principalId)) return [];
    const [rows]: [Array<{ id: string }>, number] = await this.dataSource.query(
      `UPDATE api_keys SET revoked_at = $2 WHERE principal_id = $1 AND revoked_at IS NULL RETURNING id`,
      [principalId, at],
    );
    return rows.map((row) => row.id).sort();
  }

  async rotate(previousId: string, next: NewApiKey, previousValidUntil: Date): Promise<ApiKeyRotation | null> {
    if (!isUuid(next.principalId)) return null;
    // One statement: the insert reads the rows the update returned, so the new key exists only if the
    // previous one was found in force and shortened, and a failed insert (duplicate id) undoes the
    // update. The update's row lock also orders it against a concurrent revoke. LEAST ignores NULL,
    // so a key without expiry gets previousValidUntil and a sooner expiry is kept.
    try {
      const rows: Array<ApiKeyRow & { which: 'created' | 'previous' }> = await this.dataSource.query(
        `WITH previous AS (
           UPDATE api_keys SET expires_at = LEAST(expires_at, $1::timestamptz)
           WHERE id = $2 AND revoked_at IS NULL AND principal_id = $3::uuid
           RETURNING ${COLUMNS}
         ), created AS (
           INSERT INTO api_keys (id, principal_id, name, environment, secret_hash, hash_version, scopes,
             allowed_cidrs, created_at, expires_at, rotated_from, metadata)
           SELECT $4, previous.principal_id, $5, $6, $7, $8, $9::text[], $10::text[],
                  COALESCE($11::timestamptz, now()), $12::timestamptz, previous.id, $13::jsonb
           FROM previous
           RETURNING ${COLUMNS}
         )
         SELECT 'created' AS which, ${COLUMNS} FROM created
         UNION ALL
         SELECT 'previous' AS which, ${COLUMNS} FROM previous`,
        [
          previousValidUntil,
          previousId,
          next.principalId,
          next.id,
          next.name,
          next.environment,
          next.secretHash,
          next.hashVersion,
          next.scopes,
          next.allowedCidrs,
          next.createdAt ?? null,
          next.expiresAt,
          JSON.stringify(next.metadata),
        ],
      );
      const created = rows.find((row) => row.which === 'created');
      const previous = rows.find((row) => row.which === 'previous');
      return created && previous ? { created: toRecord(created), previous: toRecord(previous) } : null;
    } catch (error) {
      throw translate(error, next);
    }
  }

  async updateHash(id: string, expectedOldHash: string, newHash: string, newVersion: string): Promise<boolean> {
    const [, affected]: [unknown[], number] = await this.dataSource.query(
      `UPDATE api_keys SET secret_hash = $3, hash_version = $4 WHERE id = $1 AND secret_hash = $2`,
      [id, expectedOldHash, newHash, newVersion],
    );
    return affected === 1;
  }

  async recordUsage(usages: ReadonlyArray<ApiKeyUsage>): Promise<void> {
    if (usages.length === 0) return;
    // Rows are locked in id order before they are written, so two instances flushing overlapping
    // batches wait for each other instead of deadlocking. Rows already newer are neither locked nor
    // rewritten, which keeps last_used_at monotonic (GREATEST) without dead tuples.
    await this.dataSource.query(
      `UPDATE api_keys AS k SET last_used_at = l.at
       FROM (
         SELECT keys.id, u.at
         FROM api_keys AS keys
         JOIN (
           SELECT id, max(at) AS at FROM unnest($1::text[], $2::timestamptz[]) AS t(id, at) GROUP BY id
         ) AS u ON u.id = keys.id
         WHERE keys.last_used_at IS NULL OR keys.last_used_at < u.at
         ORDER BY keys.id
         FOR UPDATE OF keys
       ) AS l
       WHERE k.id = l.id AND (k.last_used_at IS NULL OR k.last_used_at < l.at)`,
      [usages.map((usage) => usage.id), usages.map((usage) => usage.at.toISOString())],
    );
  }
}

function toRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    principalId: row.principal_id,
    name: row.name,
    environment: row.environment,
    secretHash: row.secret_hash,
    hashVersion: row.hash_version,
    scopes: row.scopes,
    allowedCidrs: row.allowed_cidrs,
    createdAt: new Date(row.created_at),
    expiresAt: row.expires_at && new Date(row.expires_at),
    revokedAt: row.revoked_at && new Date(row.revoked_at),
    rotatedFrom: row.rotated_from,
    lastUsedAt: row.last_used_at && new Date(row.last_used_at),
    metadata: row.metadata,
  };
}

/** Maps the constraint violations callers can act on to coded errors; anything else is rethrown. */
function translate(error: unknown, key: NewApiKey): unknown {
  const driverError = ((error as { driverError?: unknown } | null)?.driverError ?? error ?? {}) as {
    code?: string;
    constraint?: string;
  };
  if (driverError.code === '23505' && driverError.constraint === 'api_keys_pkey') return new ApiKeyIdTakenError(key.id);
  if (driverError.code === '23503' && driverError.constraint === 'api_keys_principal_id_fkey') {
    return new UnknownPrincipalError(key.principalId);
  }
  return error;
}
