import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { PrincipalEntity } from '../principals/principal.entity.js';
import type { SignatureAlgorithm } from './core/signed-request.js';

/**
 * A row of `signing_keys`: a request-signing credential of a principal. An HMAC secret is stored sealed
 * (AES-256-GCM under a master key, see `core/secret-box.ts`), an ed25519 key as its public half only.
 */
@Entity({ name: 'signing_keys' })
@Check('signing_keys_algorithm_check', `"algorithm" IN ('hmac-sha256', 'ed25519')`)
@Check(
  'signing_keys_material_check',
  `("algorithm" = 'hmac-sha256' AND "secret_ciphertext" IS NOT NULL AND "master_key_version" IS NOT NULL ` +
    `AND "public_key" IS NULL) OR ("algorithm" = 'ed25519' AND "public_key" IS NOT NULL ` +
    `AND "secret_ciphertext" IS NULL AND "master_key_version" IS NULL)`,
)
@Index('signing_keys_principal_id_idx', ['principalId'])
export class SigningKeyEntity {
  /** 20 upper-case letters and digits, the id requests name (SigV4 access key id, RFC 9421 keyid). */
  @PrimaryColumn({ name: 'access_key_id', type: 'text', primaryKeyConstraintName: 'signing_keys_pkey' })
  accessKeyId: string;

  @Column({ name: 'principal_id', type: 'uuid' })
  principalId: string;

  @Column({ name: 'name', type: 'varchar', length: 100 })
  name: string;

  @Column({ name: 'algorithm', type: 'text' })
  algorithm: SignatureAlgorithm;

  /** hmac-sha256: base64 of iv | tag | ciphertext. */
  @Column({ name: 'secret_ciphertext', type: 'text', nullable: true })
  secretCiphertext: string | null;

  @Column({ name: 'master_key_version', type: 'text', nullable: true })
  masterKeyVersion: string | null;

  /** ed25519: SPKI PEM. */
  @Column({ name: 'public_key', type: 'text', nullable: true })
  publicKey: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  @ManyToOne(() => PrincipalEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'principal_id', foreignKeyConstraintName: 'signing_keys_principal_id_fkey' })
  principal?: Relation<PrincipalEntity>;
}
