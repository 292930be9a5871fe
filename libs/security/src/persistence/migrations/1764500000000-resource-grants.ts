import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Creates `resource_grants`: per-resource grants of actions to principals. */
export class ResourceGrants1764500000000 implements MigrationInterface {
  name = 'ResourceGrants1764500000000';

  // Names are spelled out and match the entity's decorators, so a schema diff against the entities
  // stays empty. The table is unqualified: the connection's search_path picks the schema.
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "resource_grants" (
        "principal_id" uuid NOT NULL,
        "resource_type" character varying(64) NOT NULL,
        "resource_id" character varying(128) NOT NULL,
        "action" character varying(64) NOT NULL,
        "granted_at" timestamp with time zone NOT NULL DEFAULT now(),
        "granted_by" character varying(255),
        CONSTRAINT "resource_grants_pkey" PRIMARY KEY ("principal_id", "resource_type", "resource_id", "action"),
        CONSTRAINT "resource_grants_principal_id_fkey" FOREIGN KEY ("principal_id")
          REFERENCES "principals" ("id") ON DELETE CASCADE
      )`);
    // The primary key serves look-ups by principal; this serves look-ups by resource.
    await queryRunner.query(
      `CREATE INDEX "resource_grants_resource_idx" ON "resource_grants" ("resource_type", "resource_id")`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "resource_grants"`);
  }
}
