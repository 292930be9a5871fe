import { randomUUID } from 'node:crypto';
import { DataSource, type DataSourceOptions, type Logger } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testDatabase } from '../../../../test/support/services.js';
import { MemoryGrantStore } from '../../src/authz/adapters/memory-grant.store.js';
import { TypeOrmGrantStore } from '../../src/authz/adapters/typeorm-grant.store.js';
import { ResourceGrantEntity } from '../../src/authz/resource-grant.entity.js';
import { securityDataSourceOptions } from '../../src/persistence/data-source-options.js';
import { EMBEDDED_POOL_SIZE, startInMemoryPostgres } from '../../src/persistence/embedded-postgres.js';
import { SECURITY_ENTITIES, SECURITY_MIGRATIONS } from '../../src/persistence/index.js';
import { ResourceGrants1764500000000 } from '../../src/persistence/migrations/1764500000000-resource-grants.js';
import { MemoryPrincipalStore } from '../../src/principals/adapters/memory-principal.store.js';
import { TypeOrmPrincipalStore } from '../../src/principals/adapters/typeorm-principal.store.js';
import { describeGrantStoreContract } from './grant-store.contract.js';

// Built here rather than taken from securityDataSourceOptions, whose lists do not hold this migration
// and this entity yet; the Set keeps them single once they do.
const MIGRATIONS = [...new Set([...SECURITY_MIGRATIONS, ResourceGrants1764500000000])];
const ENTITIES = [...new Set([...SECURITY_ENTITIES, ResourceGrantEntity])];

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
  describe(`TypeORM grant store on ${label}`, () => {
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

    // Every test starts from empty tables.
    const truncate = () =>
      dataSource.query(
        'TRUNCATE resource_grants, api_keys, principal_roles, role_permissions, roles, principals, audit_events',
      );

    describeGrantStoreContract('typeorm', async () => {
      await truncate();
      return {
        store: new TypeOrmGrantStore(dataSource),
        principals: new TypeOrmPrincipalStore(dataSource),
        cleanup: async () => {},
      };
    });

    describe('round trips', () => {
      let grants: TypeOrmGrantStore;
      let alice: string;

      beforeEach(async () => {
        await truncate();
        grants = new TypeOrmGrantStore(dataSource);
        alice = (await new TypeOrmPrincipalStore(dataSource).create({ kind: 'user', username: 'alice' })).id;
      });

      const statementsOf = async (run: () => Promise<unknown>): Promise<string[]> => {
        counter.statements = [];
        await run();
        return counter.statements;
      };
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

      const tableExists = async (table: string): Promise<boolean> => {
        const [row] = await dataSource.query(`SELECT to_regclass($1) IS NOT NULL AS "exists"`, [table]);
        return row.exists;
      };

      it('runs after the earlier migrations', async () => {
        const applied: Array<{ name: string }> = await dataSource.query(
          `SELECT name FROM security_migrations ORDER BY timestamp`,
        );

        expect(applied.map((m) => m.name)).toEqual(MIGRATIONS.map((m) => new m().name));
        expect(applied.at(-1)?.name).toBe('ResourceGrants1764500000000');
      });

      it('creates the columns with their types, nullability and defaults', async () => {
        const rows: Array<{ column_name: string; type: string; nullable: string; default: string | null }> =
          await dataSource.query(
            `SELECT column_name, is_nullable AS nullable, column_default AS default,
                    format_type(a.atttypid, a.atttypmod) AS type
             FROM information_schema.columns c
             JOIN pg_attribute a ON a.attrelid = to_regclass(c.table_name) AND a.attname = c.column_name
             WHERE c.table_schema = current_schema() AND c.table_name = 'resource_grants'
             ORDER BY ordinal_position`,
          );

        expect(rows.map((r) => [r.column_name, r.type, r.nullable === 'YES' ? 'null' : 'not null', r.default])).toEqual(
          [
            ['principal_id', 'uuid', 'not null', null],
            ['resource_type', 'character varying(64)', 'not null', null],
            ['resource_id', 'character varying(128)', 'not null', null],
            ['action', 'character varying(64)', 'not null', null],
            ['granted_at', 'timestamp with time zone', 'not null', 'now()'],
            ['granted_by', 'character varying(255)', 'null', null],
          ],
        );
      });

      it('creates the primary key, the resource index and the cascading foreign key', async () => {
        const indexes: Array<{ indexname: string; indexdef: string }> = await dataSource.query(
          `SELECT indexname, indexdef FROM pg_indexes
           WHERE schemaname = current_schema() AND tablename = 'resource_grants' ORDER BY indexname`,
        );
        const constraints: Array<{ conname: string; def: string }> = await dataSource.query(
          `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
           WHERE conrelid = 'resource_grants'::regclass AND contype IN ('p', 'f', 'c') ORDER BY conname`,
        );

        expect(Object.fromEntries(indexes.map((i) => [i.indexname, i.indexdef.replace(/^.* USING /, '')]))).toEqual({
          resource_grants_pkey: 'btree (principal_id, resource_type, resource_id, action)',
          resource_grants_resource_idx: 'btree (resource_type, resource_id)',
        });
        expect(Object.fromEntries(constraints.map((k) => [k.conname, k.def]))).toEqual({
          resource_grants_pkey: 'PRIMARY KEY (principal_id, resource_type, resource_id, action)',
          resource_grants_principal_id_fkey: 'FOREIGN KEY (principal_id) REFERENCES principals(id) ON DELETE CASCADE',
        });
      });

      it('matches the entity: TypeORM finds nothing to change in resource_grants', async () => {
        const sql = await dataSource.driver.createSchemaBuilder().log();
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
        const principalId = (await new TypeOrmPrincipalStore(dataSource).create({ kind: 'user', username: 'x' })).id;
        const repository = dataSource.getRepository(ResourceGrantEntity);
        await repository.insert({ principalId, resourceType: 'documents', resourceId: '42', action: 'read' });

        const row = await repository.findOneByOrFail({ principalId });
        expect(row).toMatchObject({ resourceType: 'documents', resourceId: '42', action: 'read', grantedBy: null });
        expect(row.grantedAt).toBeInstanceOf(Date);
        expect(await new TypeOrmGrantStore(dataSource).actionsOn(principalId, 'documents', '42')).toEqual(['read']);
      });

      it('deletes the grants of a deleted principal, and only those', async () => {
        const principals = new TypeOrmPrincipalStore(dataSource);
        const grants = new TypeOrmGrantStore(dataSource);
        const alice = await principals.create({ kind: 'user', username: 'alice' });
        const bob = await principals.create({ kind: 'user', username: 'bob' });
        const base = { resourceType: 'documents', resourceId: '1', action: 'read', grantedBy: null };
        await grants.add({ ...base, principalId: alice.id });
        await grants.add({ ...base, principalId: alice.id, action: '*' });
        await grants.add({ ...base, principalId: bob.id });

        await dataSource.query(`DELETE FROM principals WHERE id = $1`, [alice.id]);

        expect((await grants.listForResource('documents', '1')).map((g) => g.principalId)).toEqual([bob.id]);
      });

      it('maps the foreign-key violation of an unknown uuid to ERR_SECURITY_UNKNOWN_PRINCIPAL', async () => {
        // The adapter relies on the foreign key, not on a prior look-up: a uuid nobody has is refused by it.
        const grants = new TypeOrmGrantStore(dataSource);

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
        await dataSource.undoLastMigration();

        expect(await tableExists('resource_grants')).toBe(false);
        expect(await tableExists('principals')).toBe(true);
        expect(await tableExists('principal_roles')).toBe(true);

        const applied = await dataSource.runMigrations();
        expect(applied.map((m) => m.name)).toEqual(['ResourceGrants1764500000000']);
        expect(await tableExists('resource_grants')).toBe(true);
      });
    });
  });
}
