import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryGrantStore } from '../../src/authz/adapters/memory-grant.store.js';
import { TypeOrmGrantStore } from '../../src/authz/adapters/typeorm-grant.store.js';
import { ResourceGrantEntity } from '../../src/authz/resource-grant.entity.js';
import { SECURITY_ENTITIES, SECURITY_MIGRATIONS } from '../../src/persistence/index.js';
import { ResourceGrants1764500000000 } from '../../src/persistence/migrations/1764500000000-resource-grants.js';
import { MemoryPrincipalStore } from '../../src/principals/adapters/memory-principal.store.js';
import { TypeOrmPrincipalStore } from '../../src/principals/adapters/typeorm-principal.store.js';
import { POSTGRES_TARGETS, useMigratedDatabase, type PostgresTarget } from '../support/migrated-database.js';
import { describeGrantStoreContract } from './grant-store.contract.js';

// Up to this suite's migration: the last test undoes it, and later ones (the append-only triggers on
// audit_events) would refuse the TRUNCATE between tests.
const MIGRATIONS = SECURITY_MIGRATIONS.slice(0, SECURITY_MIGRATIONS.indexOf(ResourceGrants1764500000000) + 1);
const ENTITIES = [...new Set([...SECURITY_ENTITIES, ResourceGrantEntity])];

describe('memory adapter', () => {
  describeGrantStoreContract('memory', async () => {
    const principals = new MemoryPrincipalStore();
    return { store: new MemoryGrantStore(principals), principals, cleanup: async () => {} };
  });

  it('accepts any uuid without a principal store, and still refuses a non-uuid', async () => {
    const store = new MemoryGrantStore();
    const base = { resourceType: 'documents', resourceId: '1', action: 'read', grantedBy: null };

    expect(await store.add({ ...base, principalId: randomUUID() })).toBe(true);
    await expect(store.add({ ...base, principalId: 'nobody' })).rejects.toMatchObject({
      code: 'ERR_SECURITY_UNKNOWN_PRINCIPAL',
    });
  });
});

for (const target of POSTGRES_TARGETS) describePostgres(target);

function describePostgres({ label, open }: PostgresTarget): void {
  describe(`TypeORM grant store on ${label}`, () => {
    const db = useMigratedDatabase(open, { entities: ENTITIES, migrations: MIGRATIONS });
    const { statementsOf, tableExists } = db;

    // Every test starts from empty tables.
    const truncate = () =>
      db.dataSource.query(
        'TRUNCATE resource_grants, api_keys, principal_roles, role_permissions, roles, principals, audit_events',
      );

    describeGrantStoreContract('typeorm', async () => {
      await truncate();
      return {
        store: new TypeOrmGrantStore(db.dataSource),
        principals: new TypeOrmPrincipalStore(db.dataSource),
        cleanup: async () => {},
      };
    });

    describe('round trips', () => {
      let grants: TypeOrmGrantStore;
      let alice: string;

      beforeEach(async () => {
        await truncate();
        grants = new TypeOrmGrantStore(db.dataSource);
        alice = (await new TypeOrmPrincipalStore(db.dataSource).create({ kind: 'user', username: 'alice' })).id;
      });

      const grant = { resourceType: 'documents', resourceId: '1', action: 'read', grantedBy: null };

      it('runs every call in one statement, actionsOn included', async () => {
        expect(await statementsOf(() => grants.add({ ...grant, principalId: alice }))).toHaveLength(1);
        expect(await statementsOf(() => grants.add({ ...grant, principalId: alice }))).toHaveLength(1);
        expect(await statementsOf(() => grants.actionsOn(alice, 'documents', '1'))).toHaveLength(1);
        expect(await statementsOf(() => grants.listForPrincipal(alice))).toHaveLength(1);
        expect(await statementsOf(() => grants.listForResource('documents', '1'))).toHaveLength(1);
        expect(await statementsOf(() => grants.remove(alice, 'documents', '1', 'read'))).toHaveLength(1);
      });

      it('sends no statement for what it refuses or knows to be empty', async () => {
        expect(await statementsOf(() => grants.actionsOn('not-a-uuid', 'documents', '1'))).toHaveLength(0);
        expect(await statementsOf(() => grants.actionsOn(alice, 'documents', 'a b').catch(() => []))).toHaveLength(0);
        expect(
          await statementsOf(() => grants.add({ ...grant, principalId: 'not-a-uuid' }).catch(() => false)),
        ).toHaveLength(0);
      });
    });

    describe('migration ResourceGrants1764500000000', () => {
      beforeEach(truncate);

      it('runs after the earlier migrations', async () => {
        const applied = await db.appliedMigrations();

        expect(applied).toEqual(MIGRATIONS.map((m) => new m().name));
        expect(applied.at(-1)).toBe('ResourceGrants1764500000000');
      });

      it('creates the columns with their types, nullability and defaults', async () => {
        const columns = await db.columnsOf(['resource_grants']);

        expect(columns('resource_grants')).toEqual([
          ['principal_id', 'uuid', 'not null', null],
          ['resource_type', 'character varying(64)', 'not null', null],
          ['resource_id', 'character varying(128)', 'not null', null],
          ['action', 'character varying(64)', 'not null', null],
          ['granted_at', 'timestamp with time zone', 'not null', 'now()'],
          ['granted_by', 'character varying(255)', 'null', null],
        ]);
      });

      it('creates the primary key, the resource index and the cascading foreign key', async () => {
        const indexes = await db.indexesOf(['resource_grants']);
        const constraints = await db.constraintsOf(['resource_grants'], ['p', 'f', 'c']);

        expect(indexes).toEqual({
          resource_grants_pkey: 'btree (principal_id, resource_type, resource_id, action)',
          resource_grants_resource_idx: 'btree (resource_type, resource_id)',
        });
        expect(constraints).toEqual({
          resource_grants_pkey: 'PRIMARY KEY (principal_id, resource_type, resource_id, action)',
          resource_grants_principal_id_fkey: 'FOREIGN KEY (principal_id) REFERENCES principals(id) ON DELETE CASCADE',
        });
      });

      it('matches the entity: TypeORM finds nothing to change in resource_grants', async () => {
        const sql = await db.dataSource.driver.createSchemaBuilder().log();
        const statements = sql.upQueries.map((q) => q.query).filter((q) => q.includes('"resource_grants"'));

        // TypeORM always sees a change in the default of principals.id (gen_random_uuid()) and so drops
        // and re-creates every foreign key to principals (api_keys' and principal_roles' too): the one
        // it would re-create must be exactly the one the migration made.
        expect(statements).toEqual([
          'ALTER TABLE "resource_grants" DROP CONSTRAINT "resource_grants_principal_id_fkey"',
          'ALTER TABLE "resource_grants" ADD CONSTRAINT "resource_grants_principal_id_fkey" FOREIGN KEY ("principal_id") ' +
            'REFERENCES "principals"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
        ]);
      });

      it('stores and reads grants through the entity', async () => {
        const principalId = (await new TypeOrmPrincipalStore(db.dataSource).create({ kind: 'user', username: 'x' })).id;
        const repository = db.dataSource.getRepository(ResourceGrantEntity);
        await repository.insert({ principalId, resourceType: 'documents', resourceId: '42', action: 'read' });

        const row = await repository.findOneByOrFail({ principalId });
        expect(row).toMatchObject({ resourceType: 'documents', resourceId: '42', action: 'read', grantedBy: null });
        expect(row.grantedAt).toBeInstanceOf(Date);
        expect(await new TypeOrmGrantStore(db.dataSource).actionsOn(principalId, 'documents', '42')).toEqual(['read']);
      });

      it('deletes the grants of a deleted principal, and only those', async () => {
        const principals = new TypeOrmPrincipalStore(db.dataSource);
        const grants = new TypeOrmGrantStore(db.dataSource);
        const alice = await principals.create({ kind: 'user', username: 'alice' });
        const bob = await principals.create({ kind: 'user', username: 'bob' });
        const base = { resourceType: 'documents', resourceId: '1', action: 'read', grantedBy: null };
        await grants.add({ ...base, principalId: alice.id });
        await grants.add({ ...base, principalId: alice.id, action: '*' });
        await grants.add({ ...base, principalId: bob.id });

        await db.dataSource.query(`DELETE FROM principals WHERE id = $1`, [alice.id]);

        expect((await grants.listForResource('documents', '1')).map((g) => g.principalId)).toEqual([bob.id]);
      });

      it('maps the foreign-key violation of an unknown uuid to ERR_SECURITY_UNKNOWN_PRINCIPAL', async () => {
        // The adapter relies on the foreign key, not on a prior look-up: a uuid nobody has is refused by it.
        const grants = new TypeOrmGrantStore(db.dataSource);

        await expect(
          grants.add({
            principalId: randomUUID(),
            resourceType: 'documents',
            resourceId: '1',
            action: 'read',
            grantedBy: null,
          }),
        ).rejects.toMatchObject({ code: 'ERR_SECURITY_UNKNOWN_PRINCIPAL' });
      });

      // Last: it drops the table, then puts it back for whatever runs after.
      it('undoes the migration, dropping resource_grants only, and runs it again', async () => {
        await db.dataSource.undoLastMigration();

        expect(await tableExists('resource_grants')).toBe(false);
        expect(await tableExists('principals')).toBe(true);
        expect(await tableExists('principal_roles')).toBe(true);

        const applied = await db.dataSource.runMigrations();
        expect(applied.map((m) => m.name)).toEqual(['ResourceGrants1764500000000']);
        expect(await tableExists('resource_grants')).toBe(true);
      });
    });
  });
}
