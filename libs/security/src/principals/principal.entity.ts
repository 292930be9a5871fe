import { Check, Column, Entity, PrimaryColumn, Unique } from 'typeorm';

/** Who a principal is: a person that logs in, or a machine client that only holds keys. */
export type PrincipalKind = 'user' | 'service';

/** A row of `principals`: the identity that keys, roles, sessions and audit events point to. */
@Entity({ name: 'principals' })
@Unique('principals_username_key', ['username'])
@Check('principals_kind_check', `"kind" IN ('user', 'service')`)
export class PrincipalEntity {
  // A plain default rather than `@PrimaryGeneratedColumn('uuid')`: that one makes TypeORM run
  // CREATE EXTENSION "uuid-ossp" on every connect (a side effect on a shared server, an error on
  // PGlite, which has extensions only when created with them) and synchronize to uuid_generate_v4().
  @PrimaryColumn({
    name: 'id',
    type: 'uuid',
    default: () => 'gen_random_uuid()',
    primaryKeyConstraintName: 'principals_pkey',
  })
  id: string;

  @Column({ name: 'kind', type: 'varchar' })
  kind: PrincipalKind;

  @Column({ name: 'username', type: 'varchar' })
  username: string;

  @Column({ name: 'email', type: 'varchar', nullable: true })
  email: string | null;

  @Column({ name: 'password_hash', type: 'varchar', nullable: true })
  passwordHash: string | null;

  @Column({ name: 'attributes', type: 'jsonb', default: () => `'{}'` })
  attributes: Record<string, unknown>;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'disabled_at', type: 'timestamptz', nullable: true })
  disabledAt: Date | null;
}
