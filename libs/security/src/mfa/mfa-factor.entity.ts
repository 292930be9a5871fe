import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { PrincipalEntity } from '../principals/principal.entity.js';

/** A row of `mfa_factors`: a principal's TOTP factor, the secrets sealed (AES-256-GCM) under a master key. */
@Entity({ name: 'mfa_factors' })
export class MfaFactorEntity {
  @PrimaryColumn({ name: 'principal_id', type: 'uuid', primaryKeyConstraintName: 'mfa_factors_pkey' })
  principalId: string;

  @Column({ name: 'secret_ciphertext', type: 'text', nullable: true })
  secretCiphertext: string | null;

  @Column({ name: 'secret_key_version', type: 'text', nullable: true })
  secretKeyVersion: string | null;

  @Column({ name: 'pending_ciphertext', type: 'text', nullable: true })
  pendingCiphertext: string | null;

  @Column({ name: 'pending_key_version', type: 'text', nullable: true })
  pendingKeyVersion: string | null;

  /** bigint: read as a string by the driver. */
  @Column({ name: 'last_used_step', type: 'bigint', nullable: true })
  lastUsedStep: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'activated_at', type: 'timestamptz', nullable: true })
  activatedAt: Date | null;

  @ManyToOne(() => PrincipalEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'principal_id', foreignKeyConstraintName: 'mfa_factors_principal_id_fkey' })
  principal?: Relation<PrincipalEntity>;
}

/** A row of `mfa_recovery_codes`: the SHA-256 of one single-use recovery code. */
@Entity({ name: 'mfa_recovery_codes' })
export class MfaRecoveryCodeEntity {
  @PrimaryColumn({ name: 'principal_id', type: 'uuid', primaryKeyConstraintName: 'mfa_recovery_codes_pkey' })
  principalId: string;

  @PrimaryColumn({ name: 'code_hash', type: 'char', length: 64, primaryKeyConstraintName: 'mfa_recovery_codes_pkey' })
  codeHash: string;

  @Column({ name: 'used_at', type: 'timestamptz', nullable: true })
  usedAt: Date | null;

  @ManyToOne(() => PrincipalEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'principal_id', foreignKeyConstraintName: 'mfa_recovery_codes_principal_id_fkey' })
  principal?: Relation<PrincipalEntity>;
}
