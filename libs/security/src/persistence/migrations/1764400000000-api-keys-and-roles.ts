import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Creates `roles`, `role_permissions`, `principal_roles` and `api_keys`. */
export class ApiKeysAndRoles1764400000000 implements MigrationInterface {
  name = 'ApiKeysAndRoles1764400000000';

  // Names are spelled out and match the entities' decorators, so a schema diff against the
  // entities stays empty. Tables are unqualified: the connection's search_path picks the schema.
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "roles" (
        "name" character varying(64) NOT NULL,
        "description" character varying(255),
        "created_at" timestamp with time zone NOT NULL DEFAULT now(),
        CONSTRAINT "roles_pkey" PRIMARY KEY ("name")
      )`);
    await queryRunner.query(`
      CREATE TABLE "role_permissions" (
        "role" character varying(64) NOT NULL,
        "permission" character varying(128) NOT NULL,
        CONSTRAINT "role_permissions_pkey" PRIMARY KEY ("role", "permission"),
        CONSTRAINT "role_permissions_role_fkey" FOREIGN KEY ("role") REFERENCES "roles" ("name") ON DELETE CASCADE
      )`);
    await queryRunner.query(`
      CREATE TABLE "principal_roles" (
        "principal_id" uuid NOT NULL,
        "role" character varying(64) NOT NULL,
        "granted_at" timestamp with time zone NOT NULL DEFAULT now(),
        "granted_by" character varying(255),
        CONSTRAINT "principal_roles_pkey" PRIMARY KEY ("principal_id", "role"),
        CONSTRAINT "principal_roles_principal_id_fkey" FOREIGN KEY ("principal_id")
          REFERENCES "principals" ("id") ON DELETE CASCADE,
        CONSTRAINT "principal_roles_role_fkey" FOREIGN KEY ("role") REFERENCES "roles" ("name") ON DELETE CASCADE
      )`);
    // The primary key serves lookups by principal; this serves lookups by role and cascades from roles.
    await queryRunner.query(`CREATE INDEX "principal_roles_role_idx" ON "principal_roles" ("role")`);
    await queryRunner.query(`
      CREATE TABLE "api_keys" (
        "id" character varying(12) NOT NULL,
        "principal_id" uuid NOT NULL,
        "name" character varying(100) NOT NULL,
        "environment" character varying(4) NOT NULL,
        "secret_hash" character varying(128) NOT NULL,
        "hash_version" character varying(16) NOT NULL,
        "scopes" text[],
        "allowed_cidrs" text[],
        "created_at" timestamp with time zone NOT NULL DEFAULT now(),
        "expires_at" timestamp with time zone,
        "revoked_at" timestamp with time zone,
        "rotated_from" character varying(12),
        "last_used_at" timestamp with time zone,
        "metadata" jsonb NOT NULL DEFAULT '{}',
        CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "api_keys_principal_id_fkey" FOREIGN KEY ("principal_id")
          REFERENCES "principals" ("id") ON DELETE CASCADE,
        CONSTRAINT "api_keys_environment_check" CHECK ("environment" IN ('live', 'test'))
      )`);
    await queryRunner.query(`CREATE INDEX "api_keys_principal_id_idx" ON "api_keys" ("principal_id")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "api_keys"`);
    await queryRunner.query(`DROP TABLE "principal_roles"`);
    await queryRunner.query(`DROP TABLE "role_permissions"`);
    await queryRunner.query(`DROP TABLE "roles"`);
  }
}
