import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ResourcePolicy, type AccessScope, type PolicyContext, type Principal } from '@app/security';
import { DocumentEntity } from './document.entity.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The seed's document policy: an admin may do anything; the owner may read, write and share; a grant
 * allows its action; a principal of the same department may read a document that is not confidential.
 * Sharing (granting) is for the owner and admins only, whatever the grants say.
 */
@Injectable()
export class DocumentPolicy extends ResourcePolicy<DocumentEntity> {
  readonly resourceType = 'document';

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    super();
  }

  async load(id: string): Promise<DocumentEntity | null> {
    if (!UUID.test(id)) return null;
    return this.dataSource.getRepository(DocumentEntity).findOneBy({ id });
  }

  idOf(document: DocumentEntity): string {
    return document.id;
  }

  can(principal: Principal, action: string, document: DocumentEntity, context: PolicyContext): boolean {
    if (isAdmin(principal)) return true;
    if (document.ownerId === principal.id) return ['read', 'write', 'share'].includes(action);
    if (action === 'share') return false;
    if (this.granted(action, context)) return true;
    return action === 'read' && !document.confidential && sameDepartment(principal, document.department);
  }

  scope(principal: Principal, action: string): AccessScope {
    if (isAdmin(principal)) return { kind: 'everything' };
    const department = departmentOf(principal);
    return {
      kind: 'any-of',
      conditions: [
        { kind: 'column-equals', column: 'owner_id', value: principal.id },
        {
          kind: 'granted',
          resourceType: this.resourceType,
          idColumn: 'id',
          principalId: principal.id,
          actions: [action],
        },
        ...(action === 'read' && department
          ? [
              {
                kind: 'all-of' as const,
                conditions: [
                  { kind: 'column-equals' as const, column: 'department', value: department },
                  { kind: 'column-equals' as const, column: 'confidential', value: false },
                ],
              },
            ]
          : []),
      ],
    };
  }
}

function isAdmin(principal: Principal): boolean {
  return principal.roles.includes('admin') && principal.permissions.includes('*:*');
}

function departmentOf(principal: Principal): string | undefined {
  const department = principal.attributes.department;
  return typeof department === 'string' && department.length > 0 ? department : undefined;
}

function sameDepartment(principal: Principal, department: string | null): boolean {
  const own = departmentOf(principal);
  return own !== undefined && department !== null && own === department;
}
