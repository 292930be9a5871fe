import type { DataSource } from 'typeorm';
import type { SealedSecret } from '../../signing/core/secret-box.js';
import { MfaFactorStore, type MfaFactorRecord } from '../mfa-factor.store.js';

interface Row {
  principal_id: string;
  secret_ciphertext: string | null;
  secret_key_version: string | null;
  pending_ciphertext: string | null;
  pending_key_version: string | null;
  last_used_step: string | null;
  activated_at: Date | null;
}

/** `mfa_factors` and `mfa_recovery_codes` in PostgreSQL; single-use checks are single conditional updates. */
export class TypeOrmMfaFactorStore extends MfaFactorStore {
  readonly kind = 'postgres' as const;

  constructor(private readonly dataSource: DataSource) {
    super();
  }

  async get(principalId: string): Promise<MfaFactorRecord | undefined> {
    const rows: Row[] = await this.dataSource.query(
      `SELECT "principal_id", "secret_ciphertext", "secret_key_version", "pending_ciphertext",
              "pending_key_version", "last_used_step", "activated_at"
         FROM "mfa_factors" WHERE "principal_id" = $1`,
      [principalId],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      principalId: row.principal_id,
      secret: sealed(row.secret_ciphertext, row.secret_key_version),
      pending: sealed(row.pending_ciphertext, row.pending_key_version),
      lastUsedStep: row.last_used_step === null ? null : Number(row.last_used_step),
      activatedAt: row.activated_at ? new Date(row.activated_at) : null,
    };
  }

  async savePending(principalId: string, pending: SealedSecret, at: Date): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO "mfa_factors" ("principal_id", "pending_ciphertext", "pending_key_version", "created_at")
       VALUES ($1, $2, $3, $4)
       ON CONFLICT ("principal_id") DO UPDATE SET
         "pending_ciphertext" = EXCLUDED."pending_ciphertext", "pending_key_version" = EXCLUDED."pending_key_version"`,
      [principalId, pending.ciphertext, pending.version, at],
    );
  }

  async activate(
    principalId: string,
    pending: SealedSecret,
    recoveryHashes: readonly string[],
    step: number,
    at: Date,
  ): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const updated: unknown = await manager.query(
        `UPDATE "mfa_factors" SET
           "secret_ciphertext" = "pending_ciphertext", "secret_key_version" = "pending_key_version",
           "pending_ciphertext" = NULL, "pending_key_version" = NULL,
           "last_used_step" = $3, "activated_at" = $4
         WHERE "principal_id" = $1 AND "pending_ciphertext" = $2
         RETURNING "principal_id"`,
        [principalId, pending.ciphertext, String(step), at],
      );
      if (affected(updated) === 0) return false;
      await manager.query(`DELETE FROM "mfa_recovery_codes" WHERE "principal_id" = $1`, [principalId]);
      await manager.query(
        `INSERT INTO "mfa_recovery_codes" ("principal_id", "code_hash")
         SELECT $1, unnest($2::text[])`,
        [principalId, [...recoveryHashes]],
      );
      return true;
    });
  }

  async claimStep(principalId: string, step: number): Promise<boolean> {
    const updated: unknown = await this.dataSource.query(
      `UPDATE "mfa_factors" SET "last_used_step" = $2
        WHERE "principal_id" = $1 AND "secret_ciphertext" IS NOT NULL
          AND ("last_used_step" IS NULL OR "last_used_step" < $2)
        RETURNING "principal_id"`,
      [principalId, String(step)],
    );
    return affected(updated) === 1;
  }

  async consumeRecoveryCode(principalId: string, hash: string, at: Date): Promise<boolean> {
    const updated: unknown = await this.dataSource.query(
      `UPDATE "mfa_recovery_codes" SET "used_at" = $3
        WHERE "principal_id" = $1 AND "code_hash" = $2 AND "used_at" IS NULL
        RETURNING "principal_id"`,
      [principalId, hash, at],
    );
    return affected(updated) === 1;
  }

  async remainingRecoveryCodes(principalId: string): Promise<number> {
    const [row]: Array<{ n: number }> = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM "mfa_recovery_codes" WHERE "principal_id" = $1 AND "used_at" IS NULL`,
      [principalId],
    );
    return row?.n ?? 0;
  }
}

function sealed(ciphertext: string | null, version: string | null): SealedSecret | null {
  return ciphertext !== null && version !== null ? { ciphertext, version } : null;
}

// TypeORM's postgres driver answers an UPDATE … RETURNING with [rows, count].
function affected(result: unknown): number {
  if (Array.isArray(result) && result.length === 2 && typeof result[1] === 'number') return result[1];
  return Array.isArray(result) ? result.length : 0;
}
