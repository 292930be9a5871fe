import { beforeEach, describe, expect, it } from 'vitest';
import { PrincipalRoleEntity } from '../../src/authz/principal-role.entity.js';
import { RolePermissionEntity } from '../../src/authz/role-permission.entity.js';
import { RoleEntity } from '../../src/authz/role.entity.js';
import { MemoryApiKeyStore } from '../../src/keys/adapters/memory-api-key.store.js';
import { TypeOrmApiKeyStore } from '../../src/keys/adapters/typeorm-api-key.store.js';
import { ApiKeyEntity } from '../../src/keys/api-key.entity.js';
import { SECURITY_ENTITIES, SECURITY_MIGRATIONS } from '../../src/persistence/index.js';
import { ApiKeysAndRoles1764400000000 } from '../../src/persistence/migrations/1764400000000-api-keys-and-roles.js';
import { MemoryPrincipalStore } from '../../src/principals/adapters/memory-principal.store.js';
import { TypeOrmPrincipalStore } from '../../src/principals/adapters/typeorm-principal.store.js';
import { POSTGRES_TARGETS, useMigratedDatabase, type PostgresTarget } from '../support/migrated-database.js';
import { describeApiKeyStoreContract } from './api-key-store.contract.js';
import { newApiKey, randomKeyId } from './contract-support.js';
import { describePrincipalStoreContract } from './principal-store.contract.js';

// The schema these stores need, and no later one: later tables (grants) reference principals and would
// block the TRUNCATE between tests; they have their own suites.
const MIGRATIONS = SECURITY_MIGRATIONS.slice(0, SECURITY_MIGRATIONS.indexOf(ApiKeysAndRoles1764400000000) + 1);
const ENTITIES = [
  ...new Set([...SECURITY_ENTITIES, ApiKeyEntity, RoleEntity, RolePermissionEntity, PrincipalRoleEntity]),
];
const NEW_TABLES = ['api_keys', 'principal_roles', 'role_permissions', 'roles'];

describe('memory adapters', () => {
  describePrincipalStoreContract('memory', async () => ({
    store: new MemoryPrincipalStore(),
    cleanup: async () => {},
  }));
  describeApiKeyStoreContract('memory', async () => {
    const principals = new MemoryPrincipalStore();
    return { store: new MemoryApiKeyStore(principals), principals, cleanup: async () => {} };
  });
});

for (const target of POSTGRES_TARGETS) describePostgres(target);

function describePostgres({ label, open }: PostgresTarget): void {
  describe(`TypeORM adapters on ${label}`, () => {
    const db = useMigratedDatabase(open, { entities: ENTITIES, migrations: MIGRATIONS });
    const { statementsOf, tableExists } = db;

    // Every contract test starts from empty tables.
    const truncate = () =>
      db.dataSource.query('TRUNCATE api_keys, principal_roles, role_permissions, roles, principals, audit_events');

    describePrincipalStoreContract('typeorm', async () => {
      await truncate();
      return { store: new TypeOrmPrincipalStore(db.dataSource), cleanup: async () => {} };
    });

    describeApiKeyStoreContract('typeorm', async () => {
      await truncate();
      return {
        store: new TypeOrmApiKeyStore(db.dataSource),
        principals: new TypeOrmPrincipalStore(db.dataSource),
        cleanup: async () => {},
      };
    });

    describe('round trips', () => {
      let principals: TypeOrmPrincipalStore;
      let keys: TypeOrmApiKeyStore;
      let principalId: string;

      beforeEach(async () => {
        await truncate();
        principals = new TypeOrmPrincipalStore(db.dataSource);
        keys = new TypeOrmApiKeyStore(db.dataSource);
        principalId = (await principals.create({ kind: 'user', username: 'alice' })).id;
        await principals.upsertRole('viewer', ['users:read', 'items:read']);
        await principals.upsertRole('editor', ['users:read', 'users:write']);
        await principals.assignRole(principalId, 'viewer');
        await principals.assignRole(principalId, 'editor');
      });

      it('reads a principal with roles and permissions in one statement', async () => {
        let access: Awaited<ReturnType<TypeOrmPrincipalStore['accessOf']>> = null;

        const statements = await statementsOf(async () => (access = await principals.accessOf(principalId)));

        expect(statements).toHaveLength(1);
        expect(access).toMatchObject({
          roles: ['editor', 'viewer'],
          permissions: ['items:read', 'users:read', 'users:write'],
        });
      });

      it('writes every key mutation in one statement', async () => {
        const key = newApiKey(principalId, { name: 'k', secretHash: 'aa' });
        const next = { ...key, id: randomKeyId() };

        expect(await statementsOf(() => keys.create(key))).toHaveLength(1);
        expect(await statementsOf(() => keys.rotate(key.id, next, new Date()))).toHaveLength(1);
        expect(await statementsOf(() => keys.updateHash(next.id, 'aa', 'bb', 'v2'))).toHaveLength(1);
        expect(
          await statementsOf(() =>
            keys.recordUsage([
              { id: key.id, at: new Date() },
              { id: next.id, at: new Date() },
            ]),
          ),
        ).toHaveLength(1);
        expect(await statementsOf(() => keys.revoke(key.id, new Date()))).toHaveLength(1);
        expect(await statementsOf(() => keys.revokeAllForPrincipal(principalId, new Date()))).toHaveLength(1);
      });
    });

    describe('migration ApiKeysAndRoles1764400000000', () => {
      beforeEach(truncate);

      it('runs after the earlier migrations', async () => {
        const applied = await db.appliedMigrations();

        expect(applied).toEqual(MIGRATIONS.map((m) => new m().name));
        expect(applied.at(-1)).toBe('ApiKeysAndRoles1764400000000');
      });

      it('creates the columns with their types, nullability and defaults', async () => {
        const columns = await db.columnsOf(NEW_TABLES);

        expect(columns('roles')).toEqual([
          ['name', 'character varying(64)', 'not null', null],
          ['description', 'character varying(255)', 'null', null],
          ['created_at', 'timestamp with time zone', 'not null', 'now()'],
        ]);
        expect(columns('role_permissions')).toEqual([
          ['role', 'character varying(64)', 'not null', null],
          ['permission', 'character varying(128)', 'not null', null],
        ]);
        expect(columns('principal_roles')).toEqual([
          ['principal_id', 'uuid', 'not null', null],
          ['role', 'character varying(64)', 'not null', null],
          ['granted_at', 'timestamp with time zone', 'not null', 'now()'],
          ['granted_by', 'character varying(255)', 'null', null],
        ]);
        expect(columns('api_keys')).toEqual([
          ['id', 'character varying(12)', 'not null', null],
          ['principal_id', 'uuid', 'not null', null],
          ['name', 'character varying(100)', 'not null', null],
          ['environment', 'character varying(4)', 'not null', null],
          ['secret_hash', 'character varying(128)', 'not null', null],
          ['hash_version', 'character varying(16)', 'not null', null],
          ['scopes', 'text[]', 'null', null],
          ['allowed_cidrs', 'text[]', 'null', null],
          ['created_at', 'timestamp with time zone', 'not null', 'now()'],
          ['expires_at', 'timestamp with time zone', 'null', null],
          ['revoked_at', 'timestamp with time zone', 'null', null],
          ['rotated_from', 'character varying(12)', 'null', null],
          ['last_used_at', 'timestamp with time zone', 'null', null],
          ['metadata', 'jsonb', 'not null', `'{}'::jsonb`],
        ]);
      });

      it('creates the keys, foreign keys and indexes', async () => {
        const indexes = await db.indexesOf(NEW_TABLES);
        const foreignKeys = await db.constraintsOf(NEW_TABLES, ['f', 'c']);

        expect(indexes).toEqual({
          api_keys_pkey: 'btree (id)',
          api_keys_principal_id_idx: 'btree (principal_id)',
          principal_roles_pkey: 'btree (principal_id, role)',
          principal_roles_role_idx: 'btree (role)',
          role_permissions_pkey: 'btree (role, permission)',
          roles_pkey: 'btree (name)',
        });
        expect(foreignKeys).toEqual({
          api_keys_environment_check: expect.stringMatching(/environment.*'live'.*'test'/),
          api_keys_principal_id_fkey: 'FOREIGN KEY (principal_id) REFERENCES principals(id) ON DELETE CASCADE',
          principal_roles_principal_id_fkey: 'FOREIGN KEY (principal_id) REFERENCES principals(id) ON DELETE CASCADE',
          principal_roles_role_fkey: 'FOREIGN KEY (role) REFERENCES roles(name) ON DELETE CASCADE',
          role_permissions_role_fkey: 'FOREIGN KEY (role) REFERENCES roles(name) ON DELETE CASCADE',
        });
      });

      it('stores and reads keys and grants through the entities', async () => {
        const principalId = (await new TypeOrmPrincipalStore(db.dataSource).create({ kind: 'user', username: 'x' })).id;
        await db.dataSource.getRepository(RoleEntity).insert({ name: 'viewer' });
        await db.dataSource.getRepository(RolePermissionEntity).insert({ role: 'viewer', permission: 'users:read' });
        await db.dataSource.getRepository(PrincipalRoleEntity).insert({ principalId, role: 'viewer' });
        const id = randomKeyId();
        await db.dataSource.getRepository(ApiKeyEntity).insert({
          id,
          principalId,
          name: 'k',
          environment: 'test',
          secretHash: 'aa',
          hashVersion: 'v1',
          scopes: ['users:read'],
          allowedCidrs: null,
          expiresAt: null,
          revokedAt: null,
          rotatedFrom: null,
          lastUsedAt: null,
        });

        const key = await db.dataSource.getRepository(ApiKeyEntity).findOneByOrFail({ id });
        const grant = await db.dataSource.getRepository(PrincipalRoleEntity).findOneByOrFail({ principalId });
        expect(key).toMatchObject({ principalId, scopes: ['users:read'], metadata: {}, environment: 'test' });
        expect(key.createdAt).toBeInstanceOf(Date);
        expect(grant).toMatchObject({ role: 'viewer', grantedBy: null });
        expect(grant.grantedAt).toBeInstanceOf(Date);
      });

      it('refuses an unknown environment, and cascades deletes of principals and roles', async () => {
        const store = new TypeOrmPrincipalStore(db.dataSource);
        const keys = new TypeOrmApiKeyStore(db.dataSource);
        const alice = await store.create({ kind: 'user', username: 'alice' });
        const bob = await store.create({ kind: 'user', username: 'bob' });
        await store.upsertRole('viewer', ['users:read']);
        await store.upsertRole('editor', ['users:write']);
        await store.assignRole(alice.id, 'viewer');
        await store.assignRole(bob.id, 'viewer');
        await store.assignRole(bob.id, 'editor');
        const base = { name: 'k', secretHash: 'aa' };
        const aliceKey = await keys.create(newApiKey(alice.id, { ...base, environment: 'live' }));
        const bobKey = await keys.create(newApiKey(bob.id, { ...base, environment: 'live' }));

        await expect(
          keys.create(newApiKey(alice.id, { ...base, environment: 'prod' as 'live' })),
        ).rejects.toMatchObject({ driverError: { code: '23514' } });

        await db.dataSource.query(`DELETE FROM principals WHERE id = $1`, [alice.id]);
        await db.dataSource.query(`DELETE FROM roles WHERE name = 'editor'`);

        expect(await keys.findById(aliceKey.id)).toBeNull();
        expect(await keys.findById(bobKey.id)).not.toBeNull();
        expect(await store.accessOf(bob.id)).toMatchObject({ roles: ['viewer'], permissions: ['users:read'] });
        const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM principal_roles`);
        expect(n).toBe(1);
        expect(await store.listRoles()).toEqual([{ name: 'viewer', description: null, permissions: ['users:read'] }]);
      });

      // Last: it drops the tables, then puts them back for whatever runs after.
      it('undoes the migration, dropping its four tables only, and runs it again', async () => {
        await db.dataSource.undoLastMigration();

        for (const table of NEW_TABLES) expect(await tableExists(table)).toBe(false);
        expect(await tableExists('principals')).toBe(true);
        expect(await tableExists('audit_events')).toBe(true);

        const applied = await db.dataSource.runMigrations();
        expect(applied.map((m) => m.name)).toEqual(['ApiKeysAndRoles1764400000000']);
        for (const table of NEW_TABLES) expect(await tableExists(table)).toBe(true);
      });
    });
  });
}
