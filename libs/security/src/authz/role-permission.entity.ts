import { Entity, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { RoleEntity } from './role.entity.js';

/** A row of `role_permissions`: one `<resource>:<action>` permission of a role. */
@Entity({ name: 'role_permissions' })
export class RolePermissionEntity {
  @PrimaryColumn({ name: 'role', type: 'varchar', length: 64, primaryKeyConstraintName: 'role_permissions_pkey' })
  role: string;

  @PrimaryColumn({
    name: 'permission',
    type: 'varchar',
    length: 128,
    primaryKeyConstraintName: 'role_permissions_pkey',
  })
  permission: string;

  // Declared so TypeORM knows the foreign key (and a schema diff stays empty); `role` is the column.
  @ManyToOne(() => RoleEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'role', referencedColumnName: 'name', foreignKeyConstraintName: 'role_permissions_role_fkey' })
  roleEntity?: Relation<RoleEntity>;
}
