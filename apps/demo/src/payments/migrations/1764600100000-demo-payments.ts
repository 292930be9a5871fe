import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The demo's payments table. `(principal_id, idempotency_key)` is unique, so concurrent first requests
 * with one `Idempotency-Key` create one payment; `request_sha256` is the hash of the first request's
 * canonical body, to tell a retry from a different request under the same key.
 */
export class DemoPayments1764600100000 implements MigrationInterface {
  name = 'DemoPayments1764600100000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE payments (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        principal_id uuid NOT NULL,
        amount numeric(12, 2) NOT NULL,
        currency char(3) NOT NULL,
        reference varchar(64) NOT NULL,
        idempotency_key varchar(255),
        request_sha256 char(64),
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT payments_pkey PRIMARY KEY (id),
        CONSTRAINT payments_principal_id_fkey FOREIGN KEY (principal_id) REFERENCES principals(id) ON DELETE CASCADE,
        CONSTRAINT payments_idempotency_key_key UNIQUE (principal_id, idempotency_key),
        CONSTRAINT payments_amount_check CHECK (amount > 0),
        CONSTRAINT payments_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
        CONSTRAINT payments_idempotency_check CHECK ((idempotency_key IS NULL) = (request_sha256 IS NULL))
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE payments`);
  }
}
