import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { NewPrincipal, PrincipalStore } from '../../src/principals/principal.store.js';
import { at, useContractFixture, type ContractFixture } from './contract-support.js';

/** What a contract run needs: a store over a clean state, and how to let it go. */
export interface PrincipalStoreFixture extends ContractFixture {
  store: PrincipalStore;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The behaviour every `PrincipalStore` adapter must have. `makeStore` is called before each test and
 * must hand over an empty store; `cleanup` runs after each test.
 * @example
 * describePrincipalStoreContract('memory', async () => ({ store: new MemoryPrincipalStore(), cleanup: async () => {} }));
 */
export function describePrincipalStoreContract(name: string, makeStore: () => Promise<PrincipalStoreFixture>): void {
  describe(`PrincipalStore contract: ${name}`, () => {
    let store: PrincipalStore;
    useContractFixture(makeStore, (fixture) => {
      store = fixture.store;
    });

    const user = (username: string, extra: Partial<NewPrincipal> = {}) =>
      store.create({ kind: 'user', username, ...extra });

    describe('create', () => {
      it('generates a uuid and fills the defaults', async () => {
        const before = Date.now();
        const created = await user('alice');
        const after = Date.now();

        expect(created).toEqual({
          id: expect.stringMatching(UUID),
          kind: 'user',
          username: 'alice',
          email: null,
          passwordHash: null,
          attributes: {},
          createdAt: expect.any(Date),
          disabledAt: null,
        });
        // The database clock may be another machine's: a generous bound, not an exact instant.
        expect(Math.abs(created.createdAt.getTime() - (before + after) / 2)).toBeLessThan(60_000);
      });

      it('stores every given field and reads it back unchanged', async () => {
        const id = randomUUID();
        // A new object each time: what the store does to its input cannot change what is expected.
        const given = (): NewPrincipal => ({
          id,
          kind: 'service',
          username: 'billing-bot',
          email: 'billing@example.com',
          passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
          attributes: { department: 'finance', level: 3, tags: ['a', 'b'], nested: { 'ü-ключ': 'naïve "q"' } },
          createdAt: at(0),
        });

        const created = await store.create(given());

        expect(created).toEqual({ ...given(), disabledAt: null });
        expect(await store.findById(id)).toEqual(created);
      });

      it('refuses a duplicate username with ERR_SECURITY_USERNAME_TAKEN and keeps the first', async () => {
        const first = await user('alice', { email: 'first@example.com' });

        const duplicate = store.create({ kind: 'service', username: 'alice' });

        await expect(duplicate).rejects.toBeInstanceOf(Error);
        await expect(duplicate).rejects.toMatchObject({ code: 'ERR_SECURITY_USERNAME_TAKEN' });
        expect(await store.findByUsername('alice')).toEqual(first);
      });

      it('treats usernames as case-sensitive', async () => {
        const lower = await user('alice');
        const upper = await user('Alice');

        expect(upper.id).not.toBe(lower.id);
        expect((await store.findByUsername('Alice'))?.id).toBe(upper.id);
      });

      it('refuses a duplicate id with ERR_SECURITY_PRINCIPAL_ID_TAKEN', async () => {
        const first = await user('alice');

        await expect(user('bob', { id: first.id })).rejects.toMatchObject({ code: 'ERR_SECURITY_PRINCIPAL_ID_TAKEN' });
        expect(await store.findByUsername('bob')).toBeNull();
      });

      it('refuses an unknown kind and an id that is not a uuid, storing nothing', async () => {
        await expect(store.create({ kind: 'robot' as 'user', username: 'r2d2' })).rejects.toBeInstanceOf(TypeError);
        await expect(user('c3po', { id: 'not-a-uuid' })).rejects.toBeInstanceOf(TypeError);

        expect(await store.findByUsername('r2d2')).toBeNull();
        expect(await store.findByUsername('c3po')).toBeNull();
      });

      it('returns a copy: changing the returned record changes nothing stored', async () => {
        const created = await user('alice', { attributes: { department: 'sales' } });

        created.attributes.department = 'mallory';
        created.username = 'mallory';

        expect(await store.findById(created.id)).toMatchObject({
          username: 'alice',
          attributes: { department: 'sales' },
        });
      });
    });

    describe('findById and findByUsername', () => {
      it('finds a principal by id and by username', async () => {
        const alice = await user('alice');
        await user('bob');

        expect(await store.findById(alice.id)).toEqual(alice);
        expect(await store.findByUsername('alice')).toEqual(alice);
      });

      it('answers null for an unknown id or username', async () => {
        await user('alice');

        expect(await store.findById(randomUUID())).toBeNull();
        expect(await store.findByUsername('nobody')).toBeNull();
        expect(await store.findByUsername('')).toBeNull();
      });

      it('answers null, never a database error, for ids that are not uuids', async () => {
        const alice = await user('alice');
        const malformed = [
          '',
          'alice',
          '42',
          'not-a-uuid',
          `${alice.id}x`,
          alice.id.replaceAll('-', ''),
          `{${alice.id}}`,
          "' OR '1'='1",
          'x'.repeat(1000),
        ];

        for (const id of malformed) expect(await store.findById(id)).toBeNull();
      });

      it('reads a uuid in upper case like Postgres does', async () => {
        const alice = await user('alice');

        expect(await store.findById(alice.id.toUpperCase())).toEqual(alice);
      });
    });

    describe('disable', () => {
      it('sets disabledAt and returns the whole record', async () => {
        const alice = await user('alice', { email: 'alice@example.com' });

        const disabled = await store.disable(alice.id, at(10));

        expect(disabled).toEqual({ ...alice, disabledAt: at(10) });
      });

      it('is idempotent: a second disable keeps the first disabledAt', async () => {
        const alice = await user('alice');
        await store.disable(alice.id, at(10));

        const again = await store.disable(alice.id, at(20));

        expect(again?.disabledAt).toEqual(at(10));
        expect((await store.findById(alice.id))?.disabledAt).toEqual(at(10));
      });

      it('still returns a disabled principal from every lookup, with disabledAt', async () => {
        const alice = await user('alice');
        await store.disable(alice.id, at(10));

        expect(await store.findById(alice.id)).toMatchObject({ id: alice.id, disabledAt: at(10) });
        expect(await store.findByUsername('alice')).toMatchObject({ id: alice.id, disabledAt: at(10) });
      });

      it('answers null for an unknown or malformed id', async () => {
        expect(await store.disable(randomUUID(), at(10))).toBeNull();
        expect(await store.disable('not-a-uuid', at(10))).toBeNull();
      });
    });

    describe('setPasswordHash', () => {
      it('replaces the hash, and null removes it, returning the record', async () => {
        const alice = await user('alice', { passwordHash: 'old' });

        const changed = await store.setPasswordHash(alice.id, 'new');
        expect(changed).toEqual({ ...alice, passwordHash: 'new' });
        expect((await store.findById(alice.id))?.passwordHash).toBe('new');

        expect((await store.setPasswordHash(alice.id, null))?.passwordHash).toBeNull();
        expect((await store.findById(alice.id))?.passwordHash).toBeNull();
      });

      it('answers null for an unknown or malformed id', async () => {
        expect(await store.setPasswordHash(randomUUID(), 'x')).toBeNull();
        expect(await store.setPasswordHash('nope', 'x')).toBeNull();
      });
    });

    describe('roles', () => {
      it('creates roles and lists them sorted by name, permissions sorted', async () => {
        await store.upsertRole('viewer', ['users:read', 'documents:read', 'items:read'], 'Reads things');
        await store.upsertRole('admin', ['*:*']);
        await store.upsertRole('empty', []);

        expect(await store.listRoles()).toEqual([
          { name: 'admin', description: null, permissions: ['*:*'] },
          { name: 'empty', description: null, permissions: [] },
          { name: 'viewer', description: 'Reads things', permissions: ['documents:read', 'items:read', 'users:read'] },
        ]);
      });

      it('lists nothing before any role exists', async () => {
        expect(await store.listRoles()).toEqual([]);
      });

      it('replaces the permission set of an existing role: removed ones go, new ones come, duplicates fold', async () => {
        await store.upsertRole('editor', ['users:read', 'users:write', 'documents:write']);

        await store.upsertRole('editor', ['users:read', 'payments:write', 'payments:write', 'documents:read']);

        expect(await store.listRoles()).toEqual([
          { name: 'editor', description: null, permissions: ['documents:read', 'payments:write', 'users:read'] },
        ]);
      });

      it('keeps the description when an upsert omits it, and replaces it when given', async () => {
        await store.upsertRole('viewer', ['users:read'], 'first');
        await store.upsertRole('viewer', ['users:read']);
        expect((await store.listRoles())[0]?.description).toBe('first');

        await store.upsertRole('viewer', ['users:read'], 'second');
        expect((await store.listRoles())[0]?.description).toBe('second');
      });

      it('can empty a role', async () => {
        await store.upsertRole('viewer', ['users:read']);

        await store.upsertRole('viewer', []);

        expect(await store.listRoles()).toEqual([{ name: 'viewer', description: null, permissions: [] }]);
      });

      it('keeps one of two concurrent permission sets whole, never a mix', async () => {
        await store.upsertRole('shared', ['start:x']);
        const setA = ['a:1', 'a:2', 'a:3', 'common:read'];
        const setB = ['b:1', 'b:2', 'common:read'];

        await Promise.all(
          Array.from({ length: 6 }, (_, index) => store.upsertRole('shared', index % 2 === 0 ? setA : setB)),
        );

        const [shared] = await store.listRoles();
        expect([[...setA].sort(), [...setB].sort()]).toContainEqual(shared?.permissions);
      });
    });

    describe('assignRole, revokeRole and rolesOf', () => {
      it('assigns a role once: true the first time, false after', async () => {
        const alice = await user('alice');
        await store.upsertRole('viewer', ['users:read']);

        expect(await store.assignRole(alice.id, 'viewer', 'cli:root')).toBe(true);
        expect(await store.assignRole(alice.id, 'viewer', 'someone-else')).toBe(false);
        expect(await store.rolesOf(alice.id)).toEqual(['viewer']);
      });

      it('refuses an unknown role with ERR_SECURITY_UNKNOWN_ROLE', async () => {
        const alice = await user('alice');

        const assigned = store.assignRole(alice.id, 'ghost');

        await expect(assigned).rejects.toBeInstanceOf(Error);
        await expect(assigned).rejects.toMatchObject({ code: 'ERR_SECURITY_UNKNOWN_ROLE' });
        expect(await store.rolesOf(alice.id)).toEqual([]);
      });

      it('refuses an unknown or malformed principal with ERR_SECURITY_UNKNOWN_PRINCIPAL', async () => {
        await store.upsertRole('viewer', ['users:read']);

        await expect(store.assignRole(randomUUID(), 'viewer')).rejects.toMatchObject({
          code: 'ERR_SECURITY_UNKNOWN_PRINCIPAL',
        });
        await expect(store.assignRole('not-a-uuid', 'viewer')).rejects.toMatchObject({
          code: 'ERR_SECURITY_UNKNOWN_PRINCIPAL',
        });
      });

      it('lists roles sorted, per principal', async () => {
        const alice = await user('alice');
        const bob = await user('bob');
        for (const role of ['viewer', 'admin', 'editor']) await store.upsertRole(role, []);

        await store.assignRole(alice.id, 'viewer');
        await store.assignRole(alice.id, 'admin');
        await store.assignRole(alice.id, 'editor');
        await store.assignRole(bob.id, 'viewer');

        expect(await store.rolesOf(alice.id)).toEqual(['admin', 'editor', 'viewer']);
        expect(await store.rolesOf(bob.id)).toEqual(['viewer']);
        expect(await store.rolesOf(randomUUID())).toEqual([]);
        expect(await store.rolesOf('not-a-uuid')).toEqual([]);
      });

      it('revokes a role: true when it was held, false otherwise', async () => {
        const alice = await user('alice');
        await store.upsertRole('viewer', []);
        await store.upsertRole('editor', []);
        await store.assignRole(alice.id, 'viewer');
        await store.assignRole(alice.id, 'editor');

        expect(await store.revokeRole(alice.id, 'viewer')).toBe(true);
        expect(await store.revokeRole(alice.id, 'viewer')).toBe(false);
        expect(await store.revokeRole(alice.id, 'ghost')).toBe(false);
        expect(await store.revokeRole(randomUUID(), 'editor')).toBe(false);
        expect(await store.revokeRole('not-a-uuid', 'editor')).toBe(false);
        expect(await store.rolesOf(alice.id)).toEqual(['editor']);
      });

      it('lets a revoked role be assigned again', async () => {
        const alice = await user('alice');
        await store.upsertRole('viewer', []);
        await store.assignRole(alice.id, 'viewer');
        await store.revokeRole(alice.id, 'viewer');

        expect(await store.assignRole(alice.id, 'viewer')).toBe(true);
        expect(await store.rolesOf(alice.id)).toEqual(['viewer']);
      });

      it('accepts an upper-case uuid like Postgres does', async () => {
        const alice = await user('alice');
        await store.upsertRole('viewer', []);

        expect(await store.assignRole(alice.id.toUpperCase(), 'viewer')).toBe(true);
        expect(await store.rolesOf(alice.id.toUpperCase())).toEqual(['viewer']);
        expect(await store.revokeRole(alice.id.toUpperCase(), 'viewer')).toBe(true);
      });
    });

    describe('accessOf', () => {
      it('returns the principal, its sorted roles and the deduplicated, sorted union of their permissions', async () => {
        const alice = await user('alice', { attributes: { department: 'sales' } });
        await store.upsertRole('viewer', ['users:read', 'documents:read', 'items:read']);
        await store.upsertRole('editor', [
          'users:read',
          'documents:read',
          'items:read',
          'users:write',
          'documents:write',
          'payments:write',
        ]);
        await store.upsertRole('unused', ['audit:read']);
        await store.assignRole(alice.id, 'viewer');
        await store.assignRole(alice.id, 'editor');

        expect(await store.accessOf(alice.id)).toEqual({
          principal: alice,
          roles: ['editor', 'viewer'],
          permissions: [
            'documents:read',
            'documents:write',
            'items:read',
            'payments:write',
            'users:read',
            'users:write',
          ],
        });
      });

      it('returns empty roles and permissions for a principal without roles, and a role without permissions', async () => {
        const alice = await user('alice');
        const bob = await user('bob');
        await store.upsertRole('empty', []);
        await store.assignRole(bob.id, 'empty');

        expect(await store.accessOf(alice.id)).toEqual({ principal: alice, roles: [], permissions: [] });
        expect(await store.accessOf(bob.id)).toEqual({ principal: bob, roles: ['empty'], permissions: [] });
      });

      it('still returns a disabled principal, with disabledAt, and its access', async () => {
        const alice = await user('alice');
        await store.upsertRole('admin', ['*:*']);
        await store.assignRole(alice.id, 'admin');
        await store.disable(alice.id, at(5));

        expect(await store.accessOf(alice.id)).toEqual({
          principal: { ...alice, disabledAt: at(5) },
          roles: ['admin'],
          permissions: ['*:*'],
        });
      });

      it('follows role changes: a replaced permission set and a revoked role', async () => {
        const alice = await user('alice');
        await store.upsertRole('viewer', ['users:read']);
        await store.upsertRole('editor', ['users:write']);
        await store.assignRole(alice.id, 'viewer');
        await store.assignRole(alice.id, 'editor');

        await store.upsertRole('viewer', ['items:read']);
        await store.revokeRole(alice.id, 'editor');

        expect(await store.accessOf(alice.id)).toMatchObject({ roles: ['viewer'], permissions: ['items:read'] });
      });

      it('does not mix up principals', async () => {
        const alice = await user('alice');
        const bob = await user('bob');
        await store.upsertRole('viewer', ['users:read']);
        await store.upsertRole('admin', ['*:*']);
        await store.assignRole(alice.id, 'viewer');
        await store.assignRole(bob.id, 'admin');

        expect(await store.accessOf(alice.id)).toMatchObject({ roles: ['viewer'], permissions: ['users:read'] });
        expect(await store.accessOf(bob.id)).toMatchObject({ roles: ['admin'], permissions: ['*:*'] });
      });

      it('answers null for an unknown or malformed id', async () => {
        expect(await store.accessOf(randomUUID())).toBeNull();
        expect(await store.accessOf('not-a-uuid')).toBeNull();
        expect(await store.accessOf('')).toBeNull();
      });
    });
  });
}
