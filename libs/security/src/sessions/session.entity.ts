import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, Unique, type Relation } from 'typeorm';
import { PrincipalEntity } from '../principals/principal.entity.js';
import type { SessionEndReason } from './session.store.js';

/**
 * A row of `sessions`: a login session of a principal. Only a hash of its token is stored; the row is
 * ended (`ended_at`, `end_reason`) rather than deleted, and purged once it has been over for a day.
 */
@Entity({ name: 'sessions' })
@Unique('sessions_token_hash_key', ['tokenHash'])
@Check('sessions_end_check', `("ended_at" IS NULL) = ("end_reason" IS NULL)`)
@Index('sessions_principal_id_created_at_idx', ['principalId', 'createdAt'])
export class SessionEntity {
  // No database default: the application draws the id (see PrincipalEntity for TypeORM's uuid quirk).
  @PrimaryColumn({ name: 'id', type: 'uuid', primaryKeyConstraintName: 'sessions_pkey' })
  id: string;

  @Column({ name: 'principal_id', type: 'uuid' })
  principalId: string;

  /** HMAC-SHA256 (API key pepper) or SHA-256 of the token, hex. */
  @Column({ name: 'token_hash', type: 'char', length: 64 })
  tokenHash: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'last_seen_at', type: 'timestamptz' })
  lastSeenAt: Date;

  /** The absolute expiry, fixed at login. */
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  /** last_seen_at + the idle timeout, capped by expires_at. */
  @Column({ name: 'idle_expires_at', type: 'timestamptz' })
  idleExpiresAt: Date;

  @Column({ name: 'ended_at', type: 'timestamptz', nullable: true })
  endedAt: Date | null;

  @Column({ name: 'end_reason', type: 'varchar', length: 32, nullable: true })
  endReason: SessionEndReason | null;

  /** When a second factor was last proved in this session. */
  @Column({ name: 'mfa_at', type: 'timestamptz', nullable: true })
  mfaAt: Date | null;

  @Column({ name: 'ip', type: 'varchar', length: 64, nullable: true })
  ip: string | null;

  @Column({ name: 'user_agent', type: 'varchar', length: 512, nullable: true })
  userAgent: string | null;

  @ManyToOne(() => PrincipalEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'principal_id', foreignKeyConstraintName: 'sessions_principal_id_fkey' })
  principal?: Relation<PrincipalEntity>;
}
