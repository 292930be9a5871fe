import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The demo's documents table; the owner is a principal (deleting one deletes its documents). */
export class DemoDocuments1764600000000 implements MigrationInterface {
  name = 'DemoDocuments1764600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE documents (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        owner_id uuid NOT NULL,
        title varchar(200) NOT NULL,
        body text NOT NULL,
        department varchar(64),
        confidential boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT documents_pkey PRIMARY KEY (id),
        CONSTRAINT documents_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES principals(id) ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX documents_owner_idx ON documents (owner_id)`);
    await queryRunner.query(`CREATE INDEX documents_department_idx ON documents (department)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE documents`);
  }
}
