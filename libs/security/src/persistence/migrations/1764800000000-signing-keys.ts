import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Creates `signing_keys`: request-signing credentials, an HMAC secret sealed under a master key or an ed25519 public key. */
export class SigningKeys1764800000000 implements MigrationInterface {
  name = 'SigningKeys1764800000000';

  // Names are spelled out and match the entity's decorators, so a schema diff against it stays empty.
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "signing_keys" (
        "access_key_id" text NOT NULL,
        "principal_id" uuid NOT NULL,
        "name" character varying(100) NOT NULL,
        "algorithm" text NOT NULL,
        "secret_ciphertext" text,
        "master_key_version" text,
        "public_key" text,
        "created_at" timestamp with time zone NOT NULL DEFAULT now(),
        "revoked_at" timestamp with time zone,
        CONSTRAINT "signing_keys_pkey" PRIMARY KEY ("access_key_id"),
        CONSTRAINT "signing_keys_principal_id_fkey" FOREIGN KEY ("principal_id")
          REFERENCES "principals" ("id") ON DELETE CASCADE,
        CONSTRAINT "signing_keys_algorithm_check" CHECK ("algorithm" IN ('hmac-sha256', 'ed25519')),
        CONSTRAINT "signing_keys_material_check" CHECK (
          ("algorithm" = 'hmac-sha256' AND "secret_ciphertext" IS NOT NULL AND "master_key_version" IS NOT NULL
            AND "public_key" IS NULL)
          OR ("algorithm" = 'ed25519' AND "public_key" IS NOT NULL AND "secret_ciphertext" IS NULL
            AND "master_key_version" IS NULL)
        )
      )`);
    await queryRunner.query(`CREATE INDEX "signing_keys_principal_id_idx" ON "signing_keys" ("principal_id")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "signing_keys"`);
  }
}
