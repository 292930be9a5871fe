import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A demo document: the seed's ABAC example. Ids are uuids. */
@Entity({ name: 'documents' })
@Index('documents_owner_idx', ['ownerId'])
@Index('documents_department_idx', ['department'])
export class DocumentEntity {
  @PrimaryColumn({ name: 'id', type: 'uuid', default: () => 'gen_random_uuid()' })
  id!: string;

  @Column({ name: 'owner_id', type: 'uuid' })
  ownerId!: string;

  @Column({ name: 'title', type: 'varchar', length: 200 })
  title!: string;

  @Column({ name: 'body', type: 'text' })
  body!: string;

  @Column({ name: 'department', type: 'varchar', length: 64, nullable: true })
  department!: string | null;

  @Column({ name: 'confidential', type: 'boolean', default: false })
  confidential!: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
