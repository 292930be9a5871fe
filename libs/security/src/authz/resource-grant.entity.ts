import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { PrincipalEntity } from '../principals/principal.entity.js';

/** A row of `resource_grants`: a principal may do `action` (`*`: every action) on one resource. */
@Entity({ name: 'resource_grants' })
// The primary key serves look-ups by principal (`actionsOn`, `listForPrincipal`); this one serves
// "who may do what on this resource" and the `granted` condition of access scopes.
@Index('resource_grants_resource_idx', ['resourceType', 'resourceId'])
export class ResourceGrantEntity {
  @PrimaryColumn({ name: 'principal_id', type: 'uuid', primaryKeyConstraintName: 'resource_grants_pkey' })
  principalId: string;

  @PrimaryColumn({
    name: 'resource_type',
    type: 'varchar',
    length: 64,
    primaryKeyConstraintName: 'resource_grants_pkey',
  })
  resourceType: string;

  /** The resource's id as text (`CAST(id AS text)`: a lower-case uuid, an integer). */
  @PrimaryColumn({
    name: 'resource_id',
    type: 'varchar',
    length: 128,
    primaryKeyConstraintName: 'resource_grants_pkey',
  })
  resourceId: string;

  @PrimaryColumn({ name: 'action', type: 'varchar', length: 64, primaryKeyConstraintName: 'resource_grants_pkey' })
  action: string;

  @Column({ name: 'granted_at', type: 'timestamptz', default: () => 'now()' })
  grantedAt: Date;

  /** Who granted it (`cli:<os user>`, a principal id, ...). */
  @Column({ name: 'granted_by', type: 'varchar', length: 255, nullable: true })
  grantedBy: string | null;

  @ManyToOne(() => PrincipalEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'principal_id', foreignKeyConstraintName: 'resource_grants_principal_id_fkey' })
  principal?: Relation<PrincipalEntity>;
}
