import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Creates `sessions`: login sessions, each known by the hash of its token only. */
export class Sessions1765000000000 implements MigrationInterface {
  name = 'Sessions1765000000000';

  // Names are spelled out and match the entity's decorators, so a schema diff against it stays empty.
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "sessions" (
        "id" uuid NOT NULL,
        "principal_id" uuid NOT NULL,
        "token_hash" character(64) NOT NULL,
        "created_at" timestamp with time zone NOT NULL,
        "last_seen_at" timestamp with time zone NOT NULL,
        "expires_at" timestamp with time zone NOT NULL,
        "idle_expires_at" timestamp with time zone NOT NULL,
        "ended_at" timestamp with time zone,
        "end_reason" character varying(32),
        "mfa_at" timestamp with time zone,
        "ip" character varying(64),
        "user_agent" character varying(512),
        CONSTRAINT "sessions_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "sessions_token_hash_key" UNIQUE ("token_hash"),
        CONSTRAINT "sessions_principal_id_fkey" FOREIGN KEY ("principal_id")
          REFERENCES "principals" ("id") ON DELETE CASCADE,
        CONSTRAINT "sessions_end_check" CHECK (("ended_at" IS NULL) = ("end_reason" IS NULL))
      )`);
    await queryRunner.query(
      `CREATE INDEX "sessions_principal_id_created_at_idx" ON "sessions" ("principal_id", "created_at")`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "sessions"`);
  }
}
