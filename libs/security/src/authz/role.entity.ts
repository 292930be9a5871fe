import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A row of `roles`: a named set of permissions (see `role_permissions`). */
@Entity({ name: 'roles' })
export class RoleEntity {
  @PrimaryColumn({ name: 'name', type: 'varchar', length: 64, primaryKeyConstraintName: 'roles_pkey' })
  name: string;

  @Column({ name: 'description', type: 'varchar', length: 255, nullable: true })
  description: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;
}
