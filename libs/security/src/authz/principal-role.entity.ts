import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { PrincipalEntity } from '../principals/principal.entity.js';
import { RoleEntity } from './role.entity.js';

/** A row of `principal_roles`: a role granted to a principal. */
@Entity({ name: 'principal_roles' })
// The primary key serves lookups by principal; this one serves "who has role X" and cascades from roles.
@Index('principal_roles_role_idx', ['role'])
export class PrincipalRoleEntity {
  @PrimaryColumn({ name: 'principal_id', type: 'uuid', primaryKeyConstraintName: 'principal_roles_pkey' })
  principalId: string;

  @PrimaryColumn({ name: 'role', type: 'varchar', length: 64, primaryKeyConstraintName: 'principal_roles_pkey' })
  role: string;

  @Column({ name: 'granted_at', type: 'timestamptz', default: () => 'now()' })
  grantedAt: Date;

  /** Who granted it (`cli:<os user>`, a principal id, ...). */
  @Column({ name: 'granted_by', type: 'varchar', length: 255, nullable: true })
  grantedBy: string | null;

  @ManyToOne(() => PrincipalEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'principal_id', foreignKeyConstraintName: 'principal_roles_principal_id_fkey' })
  principal?: Relation<PrincipalEntity>;

  @ManyToOne(() => RoleEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'role', referencedColumnName: 'name', foreignKeyConstraintName: 'principal_roles_role_fkey' })
  roleEntity?: Relation<RoleEntity>;
}
