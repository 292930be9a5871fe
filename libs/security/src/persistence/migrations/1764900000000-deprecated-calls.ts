import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Creates `deprecated_calls`: aggregated calls to deprecated routes, per route, version, principal and key. */
export class DeprecatedCalls1764900000000 implements MigrationInterface {
  name = 'DeprecatedCalls1764900000000';

  // Names are spelled out and match the entity's decorators, so a schema diff against it stays empty.
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "deprecated_calls" (
        "version" text NOT NULL,
        "method" text NOT NULL,
        "path" text NOT NULL,
        "principal_id" text NOT NULL,
        "key_id" text NOT NULL,
        "count" bigint NOT NULL,
        "refused" bigint NOT NULL,
        "first_seen_at" timestamp with time zone NOT NULL,
        "last_seen_at" timestamp with time zone NOT NULL,
        "last_phase" text NOT NULL,
        CONSTRAINT "deprecated_calls_pkey" PRIMARY KEY ("version", "method", "path", "principal_id", "key_id")
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "deprecated_calls"`);
  }
}
