import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { PrincipalEntity } from '../principals/principal.entity.js';
import type { ApiKeyEnvironment } from './api-key.record.js';

/** A row of `api_keys`: an API key of a principal; only a hash of its secret is stored. */
@Entity({ name: 'api_keys' })
@Check('api_keys_environment_check', `"environment" IN ('live', 'test')`)
@Index('api_keys_principal_id_idx', ['principalId'])
export class ApiKeyEntity {
  /** The public key id: 12 base62 characters. */
  @PrimaryColumn({ name: 'id', type: 'varchar', length: 12, primaryKeyConstraintName: 'api_keys_pkey' })
  id: string;

  @Column({ name: 'principal_id', type: 'uuid' })
  principalId: string;

  @Column({ name: 'name', type: 'varchar', length: 100 })
  name: string;

  @Column({ name: 'environment', type: 'varchar', length: 4 })
  environment: ApiKeyEnvironment;

  @Column({ name: 'secret_hash', type: 'varchar', length: 128 })
  secretHash: string;

  @Column({ name: 'hash_version', type: 'varchar', length: 16 })
  hashVersion: string;

  /** Null: all of the principal's permissions. */
  @Column({ name: 'scopes', type: 'text', array: true, nullable: true })
  scopes: string[] | null;

  @Column({ name: 'allowed_cidrs', type: 'text', array: true, nullable: true })
  allowedCidrs: string[] | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  // No foreign key: the history of rotations outlives the keys it names.
  @Column({ name: 'rotated_from', type: 'varchar', length: 12, nullable: true })
  rotatedFrom: string | null;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;

  @Column({ name: 'metadata', type: 'jsonb', default: () => `'{}'` })
  metadata: Record<string, unknown>;

  @ManyToOne(() => PrincipalEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'principal_id', foreignKeyConstraintName: 'api_keys_principal_id_fkey' })
  principal?: Relation<PrincipalEntity>;
}
