import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Creates `security_changes`, the outbox that `PollingSecurityChangeBus` reads. */
export class SecurityChanges1764300000000 implements MigrationInterface {
  name = 'SecurityChanges1764300000000';

  // Rows are short-lived (the bus deletes them after an hour), hence no entity: only raw SQL reads them.
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "security_changes" (
        "seq" bigserial NOT NULL,
        "kind" character varying(32) NOT NULL,
        "id" character varying(255) NOT NULL,
        "origin" character varying(64),
        "at" timestamp with time zone NOT NULL DEFAULT now(),
        CONSTRAINT "security_changes_pkey" PRIMARY KEY ("seq")
      )`);
    await queryRunner.query(`CREATE INDEX "security_changes_at_idx" ON "security_changes" ("at")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "security_changes"`);
  }
}
