import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Creates `principals` and `audit_events`. */
export class SecurityInitial1764200000000 implements MigrationInterface {
  name = 'SecurityInitial1764200000000';

  // Names are spelled out and match the entities' decorators, so a schema diff against the
  // entities stays empty. Tables are unqualified: the connection's search_path picks the schema.
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "principals" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "kind" character varying NOT NULL,
        "username" character varying NOT NULL,
        "email" character varying,
        "password_hash" character varying,
        "attributes" jsonb NOT NULL DEFAULT '{}',
        "created_at" timestamp with time zone NOT NULL DEFAULT now(),
        "disabled_at" timestamp with time zone,
        CONSTRAINT "principals_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "principals_username_key" UNIQUE ("username"),
        CONSTRAINT "principals_kind_check" CHECK ("kind" IN ('user', 'service'))
      )`);
    await queryRunner.query(`
      CREATE TABLE "audit_events" (
        "seq" bigint NOT NULL,
        "id" uuid NOT NULL,
        "at" timestamp with time zone NOT NULL,
        "type" character varying(64) NOT NULL,
        "outcome" character varying(16) NOT NULL,
        "principal_id" uuid,
        "key_id" character varying,
        "ip" character varying,
        "user_agent" character varying(512),
        "method" character varying(16),
        "path" character varying(2048),
        "status" integer,
        "request_id" character varying(64),
        "details" jsonb NOT NULL DEFAULT '{}',
        "prev_hash" character(64) NOT NULL,
        "hash" character(64) NOT NULL,
        CONSTRAINT "audit_events_pkey" PRIMARY KEY ("seq"),
        CONSTRAINT "audit_events_id_key" UNIQUE ("id"),
        CONSTRAINT "audit_events_outcome_check" CHECK ("outcome" IN ('success', 'failure', 'denied'))
      )`);
    await queryRunner.query(`CREATE INDEX "audit_events_at_idx" ON "audit_events" ("at")`);
    await queryRunner.query(`CREATE INDEX "audit_events_type_at_idx" ON "audit_events" ("type", "at")`);
    await queryRunner.query(`CREATE INDEX "audit_events_principal_id_at_idx" ON "audit_events" ("principal_id", "at")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "audit_events"`);
    await queryRunner.query(`DROP TABLE "principals"`);
  }
}
