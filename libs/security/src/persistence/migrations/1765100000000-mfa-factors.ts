import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Creates `mfa_factors` (one TOTP factor per principal, its secrets sealed under the master key) and
 * `mfa_recovery_codes` (SHA-256 of single-use recovery codes).
 */
export class MfaFactors1765100000000 implements MigrationInterface {
  name = 'MfaFactors1765100000000';

  // Names are spelled out and match the entities' decorators, so a schema diff against them stays empty.
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "mfa_factors" (
        "principal_id" uuid NOT NULL,
        "secret_ciphertext" text,
        "secret_key_version" text,
        "pending_ciphertext" text,
        "pending_key_version" text,
        "last_used_step" bigint,
        "created_at" timestamp with time zone NOT NULL DEFAULT now(),
        "activated_at" timestamp with time zone,
        CONSTRAINT "mfa_factors_pkey" PRIMARY KEY ("principal_id"),
        CONSTRAINT "mfa_factors_principal_id_fkey" FOREIGN KEY ("principal_id")
          REFERENCES "principals" ("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`
      CREATE TABLE "mfa_recovery_codes" (
        "principal_id" uuid NOT NULL,
        "code_hash" character(64) NOT NULL,
        "used_at" timestamp with time zone,
        CONSTRAINT "mfa_recovery_codes_pkey" PRIMARY KEY ("principal_id", "code_hash"),
        CONSTRAINT "mfa_recovery_codes_principal_id_fkey" FOREIGN KEY ("principal_id")
          REFERENCES "principals" ("id") ON DELETE CASCADE
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "mfa_recovery_codes"`);
    await queryRunner.query(`DROP TABLE "mfa_factors"`);
  }
}
