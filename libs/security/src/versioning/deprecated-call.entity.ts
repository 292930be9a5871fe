import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A row of `deprecated_calls`: how often one principal and key called one deprecated route (aggregated,
 * never one row per request). An absent version, principal or key is stored as the empty string, as these
 * columns make up the primary key. Written by `TypeOrmDeprecationUsageStore` with additive upserts.
 */
@Entity({ name: 'deprecated_calls' })
export class DeprecatedCallEntity {
  @PrimaryColumn({ name: 'version', type: 'text', primaryKeyConstraintName: 'deprecated_calls_pkey' })
  version: string;

  @PrimaryColumn({ name: 'method', type: 'text', primaryKeyConstraintName: 'deprecated_calls_pkey' })
  method: string;

  @PrimaryColumn({ name: 'path', type: 'text', primaryKeyConstraintName: 'deprecated_calls_pkey' })
  path: string;

  @PrimaryColumn({ name: 'principal_id', type: 'text', primaryKeyConstraintName: 'deprecated_calls_pkey' })
  principalId: string;

  @PrimaryColumn({ name: 'key_id', type: 'text', primaryKeyConstraintName: 'deprecated_calls_pkey' })
  keyId: string;

  /** bigint: read as a string by the driver. */
  @Column({ name: 'count', type: 'bigint' })
  count: string;

  @Column({ name: 'refused', type: 'bigint' })
  refused: string;

  @Column({ name: 'first_seen_at', type: 'timestamptz' })
  firstSeenAt: Date;

  @Column({ name: 'last_seen_at', type: 'timestamptz' })
  lastSeenAt: Date;

  @Column({ name: 'last_phase', type: 'text' })
  lastPhase: string;
}
