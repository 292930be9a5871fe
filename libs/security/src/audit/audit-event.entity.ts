import { Check, Column, Entity, Index, PrimaryColumn, Unique } from 'typeorm';

/** How a recorded action ended. */
export type AuditOutcome = 'success' | 'failure' | 'denied';

/** A row of `audit_events`: one link of the hash chain that makes the trail tamper-evident. */
@Entity({ name: 'audit_events' })
@Unique('audit_events_id_key', ['id'])
@Check('audit_events_outcome_check', `"outcome" IN ('success', 'failure', 'denied')`)
@Index('audit_events_at_idx', ['at'])
@Index('audit_events_type_at_idx', ['type', 'at'])
@Index('audit_events_principal_id_at_idx', ['principalId', 'at'])
export class AuditEventEntity {
  // Assigned by the writer, not a sequence: sequences leave gaps on rollback, and a gap must mean
  // a deleted row. bigint arrives from `pg` as a string, which keeps values above 2^53 exact.
  @PrimaryColumn({
    name: 'seq',
    type: 'bigint',
    primaryKeyConstraintName: 'audit_events_pkey',
  })
  seq: string;

  @Column({ name: 'id', type: 'uuid' })
  id: string;

  @Column({ name: 'at', type: 'timestamptz' })
  at: Date;

  @Column({ name: 'type', type: 'varchar', length: 64 })
  type: string;

  @Column({ name: 'outcome', type: 'varchar', length: 16 })
  outcome: AuditOutcome;

  // No foreign key: the trail must outlive the principals it mentions and accept events about
  // principals that never existed (a failed login for an unknown name).
  @Column({ name: 'principal_id', type: 'uuid', nullable: true })
  principalId: string | null;

  @Column({ name: 'key_id', type: 'varchar', nullable: true })
  keyId: string | null;

  @Column({ name: 'ip', type: 'varchar', nullable: true })
  ip: string | null;

  @Column({ name: 'user_agent', type: 'varchar', length: 512, nullable: true })
  userAgent: string | null;

  @Column({ name: 'method', type: 'varchar', length: 16, nullable: true })
  method: string | null;

  @Column({ name: 'path', type: 'varchar', length: 2048, nullable: true })
  path: string | null;

  @Column({ name: 'status', type: 'int', nullable: true })
  status: number | null;

  @Column({ name: 'request_id', type: 'varchar', length: 64, nullable: true })
  requestId: string | null;

  @Column({ name: 'details', type: 'jsonb', default: () => `'{}'` })
  details: Record<string, unknown>;

  @Column({ name: 'prev_hash', type: 'char', length: 64 })
  prevHash: string;

  @Column({ name: 'hash', type: 'char', length: 64 })
  hash: string;
}
