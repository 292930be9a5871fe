import { DataSource, type DataSourceOptions, type Logger } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testDatabase } from '../../../../test/support/services.js';
import { PrincipalRoleEntity } from '../../src/authz/principal-role.entity.js';
import { RolePermissionEntity } from '../../src/authz/role-permission.entity.js';
import { RoleEntity } from '../../src/authz/role.entity.js';
import { MemoryApiKeyStore } from '../../src/keys/adapters/memory-api-key.store.js';
import { TypeOrmApiKeyStore } from '../../src/keys/adapters/typeorm-api-key.store.js';
import { ApiKeyEntity } from '../../src/keys/api-key.entity.js';
import { securityDataSourceOptions } from '../../src/persistence/data-source-options.js';
import { EMBEDDED_POOL_SIZE, startInMemoryPostgres } from '../../src/persistence/embedded-postgres.js';
import { SECURITY_ENTITIES, SECURITY_MIGRATIONS } from '../../src/persistence/index.js';
import { ApiKeysAndRoles1764400000000 } from '../../src/persistence/migrations/1764400000000-api-keys-and-roles.js';
import { MemoryPrincipalStore } from '../../src/principals/adapters/memory-principal.store.js';
import { TypeOrmPrincipalStore } from '../../src/principals/adapters/typeorm-principal.store.js';
import { describeApiKeyStoreContract, randomKeyId } from './api-key-store.contract.js';
import { describePrincipalStoreContract } from './principal-store.contract.js';

// The schema these stores need, and no later one: later tables (grants) reference principals and would
// block the TRUNCATE between tests; they have their own suites.
const MIGRATIONS = SECURITY_MIGRATIONS.slice(0, SECURITY_MIGRATIONS.indexOf(ApiKeysAndRoles1764400000000) + 1);
const ENTITIES = [
  ...new Set([...SECURITY_ENTITIES, ApiKeyEntity, RoleEntity, RolePermissionEntity, PrincipalRoleEntity]),
];
const NEW_TABLES = ['api_keys', 'principal_roles', 'role_permissions', 'roles'];

interface Database {
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

/** Counts the statements a DataSource sends, to check what must be one round trip. */
class CountingLogger implements Logger {
  statements: string[] = [];
  logQuery(query: string): void {
    this.statements.push(query);
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

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

describePostgres('PostgreSQL (embedded only when none answers)', async () => {
  const db = await testDatabase();
  return { url: db.url, embedded: db.embedded, close: () => db.drop() };
});

// The embedded mode is a default of the demo: the same SQL must run on PGlite behind its socket.
describePostgres('embedded PGlite (in memory)', async () => {
  const server = await startInMemoryPostgres();
  return { url: server.url, embedded: true, close: () => server.close() };
});

function describePostgres(label: string, open: () => Promise<Database>): void {
  describe(`TypeORM adapters on ${label}`, () => {
    let db: Database;
    let dataSource: DataSource;
    const counter = new CountingLogger();

    beforeAll(async () => {
      db = await open();
      const options: DataSourceOptions = {
        ...securityDataSourceOptions({ url: db.url, poolSize: db.embedded ? EMBEDDED_POOL_SIZE : 4 }),
        entities: ENTITIES,
        migrations: MIGRATIONS,
        logger: counter,
      };
      dataSource = await new DataSource(options).initialize();
      await dataSource.runMigrations();
    }, 60_000);

    afterAll(async () => {
      await dataSource?.destroy();
      await db?.close();
    });

    // Every contract test starts from empty tables.
    const truncate = () =>
      dataSource.query('TRUNCATE api_keys, principal_roles, role_permissions, roles, principals, audit_events');

    describePrincipalStoreContract('typeorm', async () => {
      await truncate();
      return { store: new TypeOrmPrincipalStore(dataSource), cleanup: async () => {} };
    });

    describeApiKeyStoreContract('typeorm', async () => {
      await truncate();
      return {
        store: new TypeOrmApiKeyStore(dataSource),
        principals: new TypeOrmPrincipalStore(dataSource),
        cleanup: async () => {},
      };
    });

    describe('round trips', () => {
      let principals: TypeOrmPrincipalStore;
      let keys: TypeOrmApiKeyStore;
      let principalId: string;

      beforeEach(async () => {
        await truncate();
        principals = new TypeOrmPrincipalStore(dataSource);
        keys = new TypeOrmApiKeyStore(dataSource);
        principalId = (await principals.create({ kind: 'user', username: 'alice' })).id;
        await principals.upsertRole('viewer', ['users:read', 'items:read']);
        await principals.upsertRole('editor', ['users:read', 'users:write']);
        await principals.assignRole(principalId, 'viewer');
        await principals.assignRole(principalId, 'editor');
      });

      const statementsOf = async (run: () => Promise<unknown>): Promise<string[]> => {
        counter.statements = [];
        await run();
        return counter.statements;
      };

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
        const key = {
          id: randomKeyId(),
          principalId,
          name: 'k',
          environment: 'live' as const,
          secretHash: 'aa',
          hashVersion: 'v1',
          scopes: null,
          allowedCidrs: null,
          expiresAt: null,
          rotatedFrom: null,
          metadata: {},
        };
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

      const tableExists = async (table: string): Promise<boolean> => {
        const [row] = await dataSource.query(`SELECT to_regclass($1) IS NOT NULL AS "exists"`, [table]);
        return row.exists;
      };

      it('runs after the earlier migrations', async () => {
        const applied: Array<{ name: string }> = await dataSource.query(
          `SELECT name FROM security_migrations ORDER BY timestamp`,
        );

        expect(applied.map((m) => m.name)).toEqual(MIGRATIONS.map((m) => new m().name));
        expect(applied.at(-1)?.name).toBe('ApiKeysAndRoles1764400000000');
      });

      it('creates the columns with their types, nullability and defaults', async () => {
        const rows: Array<{
          table_name: string;
          column_name: string;
          type: string;
          nullable: string;
          default: string | null;
        }> = await dataSource.query(
          `
            SELECT table_name, column_name, is_nullable AS nullable, column_default AS default,
                   format_type(a.atttypid, a.atttypmod) AS type
            FROM information_schema.columns c
            JOIN pg_attribute a ON a.attrelid = to_regclass(c.table_name) AND a.attname = c.column_name
            WHERE c.table_schema = current_schema() AND c.table_name = ANY($1)
            ORDER BY table_name, ordinal_position`,
          [NEW_TABLES],
        );
        const columns = (table: string) =>
          rows
            .filter((r) => r.table_name === table)
            .map((r) => [r.column_name, r.type, r.nullable === 'YES' ? 'null' : 'not null', r.default]);

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
        const indexes: Array<{ indexname: string; indexdef: string }> = await dataSource.query(
          `SELECT indexname, indexdef FROM pg_indexes
           WHERE schemaname = current_schema() AND tablename = ANY($1) ORDER BY indexname`,
          [NEW_TABLES],
        );
        const foreignKeys: Array<{ conname: string; def: string }> = await dataSource.query(
          `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
           WHERE contype IN ('f', 'c') AND conrelid::regclass::text = ANY($1) ORDER BY conname`,
          [NEW_TABLES],
        );

        expect(Object.fromEntries(indexes.map((i) => [i.indexname, i.indexdef.replace(/^.* USING /, '')]))).toEqual({
          api_keys_pkey: 'btree (id)',
          api_keys_principal_id_idx: 'btree (principal_id)',
          principal_roles_pkey: 'btree (principal_id, role)',
          principal_roles_role_idx: 'btree (role)',
          role_permissions_pkey: 'btree (role, permission)',
          roles_pkey: 'btree (name)',
        });
        expect(Object.fromEntries(foreignKeys.map((k) => [k.conname, k.def]))).toEqual({
          api_keys_environment_check: expect.stringMatching(/environment.*'live'.*'test'/),
          api_keys_principal_id_fkey: 'FOREIGN KEY (principal_id) REFERENCES principals(id) ON DELETE CASCADE',
          principal_roles_principal_id_fkey: 'FOREIGN KEY (principal_id) REFERENCES principals(id) ON DELETE CASCADE',
          principal_roles_role_fkey: 'FOREIGN KEY (role) REFERENCES roles(name) ON DELETE CASCADE',
          role_permissions_role_fkey: 'FOREIGN KEY (role) REFERENCES roles(name) ON DELETE CASCADE',
        });
      });

      it('stores and reads keys and grants through the entities', async () => {
        const principalId = (await new TypeOrmPrincipalStore(dataSource).create({ kind: 'user', username: 'x' })).id;
        await dataSource.getRepository(RoleEntity).insert({ name: 'viewer' });
        await dataSource.getRepository(RolePermissionEntity).insert({ role: 'viewer', permission: 'users:read' });
        await dataSource.getRepository(PrincipalRoleEntity).insert({ principalId, role: 'viewer' });
        const id = randomKeyId();
        await dataSource.getRepository(ApiKeyEntity).insert({
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

        const key = await dataSource.getRepository(ApiKeyEntity).findOneByOrFail({ id });
        const grant = await dataSource.getRepository(PrincipalRoleEntity).findOneByOrFail({ principalId });
        expect(key).toMatchObject({ principalId, scopes: ['users:read'], metadata: {}, environment: 'test' });
        expect(key.createdAt).toBeInstanceOf(Date);
        expect(grant).toMatchObject({ role: 'viewer', grantedBy: null });
        expect(grant.grantedAt).toBeInstanceOf(Date);
      });

      it('refuses an unknown environment, and cascades deletes of principals and roles', async () => {
        const store = new TypeOrmPrincipalStore(dataSource);
        const keys = new TypeOrmApiKeyStore(dataSource);
        const alice = await store.create({ kind: 'user', username: 'alice' });
        const bob = await store.create({ kind: 'user', username: 'bob' });
        await store.upsertRole('viewer', ['users:read']);
        await store.upsertRole('editor', ['users:write']);
        await store.assignRole(alice.id, 'viewer');
        await store.assignRole(bob.id, 'viewer');
        await store.assignRole(bob.id, 'editor');
        const base = {
          name: 'k',
          secretHash: 'aa',
          hashVersion: 'v1',
          scopes: null,
          allowedCidrs: null,
          expiresAt: null,
          rotatedFrom: null,
          metadata: {},
        };
        const aliceKey = await keys.create({ ...base, id: randomKeyId(), principalId: alice.id, environment: 'live' });
        const bobKey = await keys.create({ ...base, id: randomKeyId(), principalId: bob.id, environment: 'live' });

        await expect(
          keys.create({ ...base, id: randomKeyId(), principalId: alice.id, environment: 'prod' as 'live' }),
        ).rejects.toMatchObject({ driverError: { code: '23514' } });

        await dataSource.query(`DELETE FROM principals WHERE id = $1`, [alice.id]);
        await dataSource.query(`DELETE FROM roles WHERE name = 'editor'`);

        expect(await keys.findById(aliceKey.id)).toBeNull();
        expect(await keys.findById(bobKey.id)).not.toBeNull();
        expect(await store.accessOf(bob.id)).toMatchObject({ roles: ['viewer'], permissions: ['users:read'] });
        const [{ n }] = await dataSource.query(`SELECT count(*)::int AS n FROM principal_roles`);
        expect(n).toBe(1);
        expect(await store.listRoles()).toEqual([{ name: 'viewer', description: null, permissions: ['users:read'] }]);
      });

      // Last: it drops the tables, then puts them back for whatever runs after.
      it('undoes the migration, dropping its four tables only, and runs it again', async () => {
        await dataSource.undoLastMigration();

        for (const table of NEW_TABLES) expect(await tableExists(table)).toBe(false);
        expect(await tableExists('principals')).toBe(true);
        expect(await tableExists('audit_events')).toBe(true);

        const applied = await dataSource.runMigrations();
        expect(applied.map((m) => m.name)).toEqual(['ApiKeysAndRoles1764400000000']);
        for (const table of NEW_TABLES) expect(await tableExists(table)).toBe(true);
      });
    });
  });
}
