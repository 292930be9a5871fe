import type { DataSource } from 'typeorm';
import type { Principal } from '@app/security';
import type { DocumentEntity } from './document.entity.js';
import { DocumentPolicy } from './document.policy.js';

const policy = new DocumentPolicy(null as unknown as DataSource);
const principal = (id: string, roles: string[], permissions: string[], department?: string): Principal => ({
  id,
  kind: 'user',
  roles,
  permissions,
  attributes: department ? { department } : {},
  authMethod: 'test',
});
const doc = (fields: Partial<DocumentEntity>) =>
  ({ id: 'd1', ownerId: 'owner', department: 'sales', confidential: false, ...fields }) as DocumentEntity;
const none = { grantedActions: [] };

describe('DocumentPolicy', () => {
  const owner = principal('owner', ['editor'], ['documents:read', 'documents:write'], 'sales');
  const colleague = principal('c', ['viewer'], ['documents:read'], 'sales');
  const outsider = principal('o', ['viewer'], ['documents:read'], 'hr');
  const admin = principal('a', ['admin'], ['*:*']);
  const scopedAdmin = principal('a', ['admin'], ['documents:read']);

  it.each<[string, Principal, Partial<DocumentEntity>, string, boolean]>([
    ['owner reads', owner, {}, 'read', true],
    ['owner writes', owner, { confidential: true }, 'write', true],
    ['owner shares', owner, {}, 'share', true],
    ['owner may not delete (no such action for owners)', owner, {}, 'delete', false],
    ['admin does anything', admin, { confidential: true }, 'delete', true],
    ['an admin key scoped down is not an admin', scopedAdmin, { confidential: true }, 'read', false],
    ['colleague reads an open document', colleague, {}, 'read', true],
    ['colleague does not read a confidential one', colleague, { confidential: true }, 'read', false],
    ['colleague does not write', colleague, {}, 'write', false],
    ['another department does not read', outsider, {}, 'read', false],
    [
      'no department never matches a document without one',
      principal('x', ['viewer'], [], undefined),
      { department: null },
      'read',
      false,
    ],
  ])('%s', (_name, who, fields, action, allowed) => {
    expect(policy.can(who, action, doc(fields), none)).toBe(allowed);
  });

  it('honours grants, but never for sharing', () => {
    expect(policy.can(outsider, 'read', doc({ confidential: true }), { grantedActions: ['read'] })).toBe(true);
    expect(policy.can(outsider, 'write', doc({}), { grantedActions: ['*'] })).toBe(true);
    expect(policy.can(outsider, 'share', doc({}), { grantedActions: ['*'] })).toBe(false);
  });

  it('describes the same rules for list queries', () => {
    expect(policy.scope(admin, 'read')).toEqual({ kind: 'everything' });
    expect(policy.scope(colleague, 'read')).toEqual({
      kind: 'any-of',
      conditions: [
        { kind: 'column-equals', column: 'owner_id', value: 'c' },
        { kind: 'granted', resourceType: 'document', idColumn: 'id', principalId: 'c', actions: ['read'] },
        {
          kind: 'all-of',
          conditions: [
            { kind: 'column-equals', column: 'department', value: 'sales' },
            { kind: 'column-equals', column: 'confidential', value: false },
          ],
        },
      ],
    });
    // Writing is never granted by department.
    expect(policy.scope(colleague, 'write')).toMatchObject({
      conditions: [{ column: 'owner_id' }, { kind: 'granted', actions: ['write'] }],
    });
  });
});
