import { describe, expect, it } from 'vitest';
import { describePrincipalStoreContract } from '../../test/stores/principal-store.contract.js';
import { TestingPrincipalStore } from './testing-principal.store.js';

describePrincipalStoreContract('TestingPrincipalStore', async () => ({
  store: new TestingPrincipalStore(),
  cleanup: async () => {},
}));

describe('TestingPrincipalStore.grantDirect', () => {
  it("adds the principal's own permissions to its roles', deduplicated and sorted, without a role", async () => {
    const store = new TestingPrincipalStore();
    const alice = await store.create({ kind: 'user', username: 'alice' });
    await store.upsertRole('viewer', ['users:read', 'documents:read']);
    await store.assignRole(alice.id, 'viewer');

    store.grantDirect(alice.id.toUpperCase(), ['payments:write', 'users:read']);
    store.grantDirect(alice.id, ['audit:read']);

    expect(await store.accessOf(alice.id)).toMatchObject({
      roles: ['viewer'],
      permissions: ['audit:read', 'documents:read', 'payments:write', 'users:read'],
    });
  });

  it('leaves other principals and unknown ids alone', async () => {
    const store = new TestingPrincipalStore();
    const alice = await store.create({ kind: 'user', username: 'alice' });
    const bob = await store.create({ kind: 'user', username: 'bob' });
    store.grantDirect(alice.id, ['users:read']);

    expect((await store.accessOf(bob.id))?.permissions).toEqual([]);
    expect(await store.accessOf('00000000-0000-4000-8000-000000000000')).toBeNull();
  });
});
