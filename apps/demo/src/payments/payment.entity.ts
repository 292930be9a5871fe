import { Column, CreateDateColumn, Entity, PrimaryColumn, Unique } from 'typeorm';

/** A demo payment: the signed route's example. Ids are uuids; `amount` is numeric(12,2), read as a string. */
@Entity({ name: 'payments' })
@Unique('payments_idempotency_key_key', ['principalId', 'idempotencyKey'])
export class PaymentEntity {
  @PrimaryColumn({ name: 'id', type: 'uuid', default: () => 'gen_random_uuid()' })
  id!: string;

  @Column({ name: 'principal_id', type: 'uuid' })
  principalId!: string;

  @Column({ name: 'amount', type: 'numeric', precision: 12, scale: 2 })
  amount!: string;

  @Column({ name: 'currency', type: 'char', length: 3 })
  currency!: string;

  @Column({ name: 'reference', type: 'varchar', length: 64 })
  reference!: string;

  /** The client's `Idempotency-Key`, unique per principal; null when the request had none. */
  @Column({ name: 'idempotency_key', type: 'varchar', length: 255, nullable: true })
  idempotencyKey!: string | null;

  /** Hex SHA-256 of the canonical body of the request that created the payment (with a key only). */
  @Column({ name: 'request_sha256', type: 'char', length: 64, nullable: true })
  requestSha256!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
