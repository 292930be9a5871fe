import { randomUUID } from 'node:crypto';
import { Column, DataSource, Entity, PrimaryGeneratedColumn, type SelectQueryBuilder } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase } from '../../../../test/support/services.js';
import { TypeOrmGrantStore } from '../../src/authz/adapters/typeorm-grant.store.js';
import type { AccessCondition, AccessScope } from '../../src/authz/core/access-scope.js';
import { ResourceGrantEntity } from '../../src/authz/resource-grant.entity.js';
import { restrictToAccessible } from '../../src/authz/restrict-to-accessible.js';
import { securityDataSourceOptions } from '../../src/persistence/data-source-options.js';
import { EMBEDDED_POOL_SIZE, startInMemoryPostgres } from '../../src/persistence/embedded-postgres.js';
import { SECURITY_ENTITIES, SECURITY_MIGRATIONS } from '../../src/persistence/index.js';
import { ResourceGrants1764500000000 } from '../../src/persistence/migrations/1764500000000-resource-grants.js';
import { TypeOrmPrincipalStore } from '../../src/principals/adapters/typeorm-principal.store.js';

const MIGRATIONS = [...new Set([...SECURITY_MIGRATIONS, ResourceGrants1764500000000])];

/** The test's own table, mapped with property names that differ from the column names. */
@Entity({ name: 'docs' })
class DocEntity {
  @PrimaryGeneratedColumn({ name: 'id' })
  id: number;

  @Column({ name: 'owner_id', type: 'uuid', nullable: true })
  ownerId: string | null;

  @Column({ name: 'department', type: 'text' })
  department: string;

  @Column({ name: 'confidential', type: 'boolean' })
  confidential: boolean;
}

const ENTITIES = [...new Set([...SECURITY_ENTITIES, ResourceGrantEntity, DocEntity])];

interface Database {
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

describeRestriction('PostgreSQL (embedded only when none answers)', async () => {
  const db = await testDatabase();
  return { url: db.url, embedded: db.embedded, close: () => db.drop() };
});

describeRestriction('embedded PGlite (in memory)', async () => {
  const server = await startInMemoryPostgres();
  return { url: server.url, embedded: true, close: () => server.close() };
});

function describeRestriction(label: string, open: () => Promise<Database>): void {
  describe(`restrictToAccessible on ${label}`, () => {
    let db: Database;
    let dataSource: DataSource;
    const ids: Record<'alice' | 'bob' | 'carol' | 'dave', string> = { alice: '', bob: '', carol: '', dave: '' };
    let noteIds: string[] = [];

    beforeAll(async () => {
      db = await open();
      dataSource = await new DataSource({
        ...securityDataSourceOptions({ url: db.url, poolSize: db.embedded ? EMBEDDED_POOL_SIZE : 4 }),
        entities: ENTITIES,
        migrations: MIGRATIONS,
      }).initialize();
      await dataSource.runMigrations();
      await dataSource.query(
        `CREATE TABLE docs (id serial PRIMARY KEY, owner_id uuid, department text NOT NULL, confidential bool NOT NULL)`,
      );
      await dataSource.query(`CREATE TABLE notes (id uuid PRIMARY KEY, body text NOT NULL)`);

      const principals = new TypeOrmPrincipalStore(dataSource);
      for (const name of Object.keys(ids) as Array<keyof typeof ids>) {
        ids[name] = (await principals.create({ kind: 'user', username: name })).id;
      }
      const { alice, bob, carol, dave } = ids;
      // id: owner, department, confidential
      const docs: Array<[string | null, string, boolean]> = [
        [alice, 'sales', false], // 1
        [alice, 'hr', true], // 2
        [bob, 'sales', false], // 3
        [bob, 'sales', true], // 4
        [bob, 'hr', false], // 5
        [carol, 'sales', false], // 6
        [bob, 'hr', true], // 7
        [null, 'hr', false], // 8
      ];
      for (const [owner, department, confidential] of docs) {
        await dataSource.query(`INSERT INTO docs (owner_id, department, confidential) VALUES ($1, $2, $3)`, [
          owner,
          department,
          confidential,
        ]);
      }
      noteIds = [randomUUID(), randomUUID(), randomUUID()].sort();
      for (const id of noteIds) await dataSource.query(`INSERT INTO notes (id, body) VALUES ($1, 'n')`, [id]);

      const grants = new TypeOrmGrantStore(dataSource);
      const grant = (principalId: string, resourceType: string, resourceId: string, action: string) =>
        grants.add({ principalId, resourceType, resourceId, action, grantedBy: null });
      await grant(carol, 'documents', '5', 'read');
      await grant(carol, 'documents', '7', '*');
      await grant(carol, 'documents', '2', 'write');
      await grant(carol, 'folders', '4', 'read'); // another resource type: never a document
      await grant(carol, 'documents', '03', 'read'); // not the text of id 3
      await grant(dave, 'documents', '4', 'read');
      await grant(carol, 'notes', noteIds[1]!, 'read');
    }, 60_000);

    afterAll(async () => {
      await dataSource?.destroy();
      await db?.close();
    });

    const docsQuery = () => dataSource.createQueryBuilder().select('d.id', 'id').from('docs', 'd').orderBy('d.id');
    const idsOf = async (qb: SelectQueryBuilder<Record<string, unknown>>): Promise<number[]> =>
      (await qb.getRawMany<{ id: number }>()).map((row) => Number(row.id));
    const visible = (scope: AccessScope) => idsOf(restrictToAccessible(docsQuery(), scope));

    const ownedBy = (principalId: string): AccessCondition => ({
      kind: 'column-equals',
      column: 'owner_id',
      value: principalId,
    });
    const grantedTo = (principalId: string, actions: string[], resourceType = 'documents'): AccessCondition => ({
      kind: 'granted',
      resourceType,
      idColumn: 'id',
      principalId,
      actions,
    });
    const openInDepartment = (department: string): AccessCondition => ({
      kind: 'all-of',
      conditions: [
        { kind: 'column-equals', column: 'department', value: department },
        { kind: 'column-equals', column: 'confidential', value: false },
      ],
    });
    const anyOf = (...conditions: AccessCondition[]): AccessScope => ({ kind: 'any-of', conditions });

    it('lets an owner see their own rows', async () => {
      expect(await visible(anyOf(ownedBy(ids.alice)))).toEqual([1, 2]);
      expect(await visible(anyOf(ownedBy(ids.bob)))).toEqual([3, 4, 5, 7]);
      expect(await visible(anyOf(ownedBy(ids.dave)))).toEqual([]);
    });

    it('lets a grantee see the rows granted for the action, a * grant counting for every action', async () => {
      expect(await visible(anyOf(grantedTo(ids.carol, ['read'])))).toEqual([5, 7]);
      expect(await visible(anyOf(grantedTo(ids.carol, ['write'])))).toEqual([2, 7]);
      expect(await visible(anyOf(grantedTo(ids.carol, ['read', 'write'])))).toEqual([2, 5, 7]);
      expect(await visible(anyOf(grantedTo(ids.carol, ['delete'])))).toEqual([7]);
      expect(await visible(anyOf(grantedTo(ids.dave, ['read'])))).toEqual([4]);
      expect(await visible(anyOf(grantedTo(ids.alice, ['read'])))).toEqual([]);
    });

    it('keeps grants to their resource type and their exact id text', async () => {
      // carol's folders/4 and documents/03 grants show nothing of documents 4 and 3.
      expect(await visible(anyOf(grantedTo(ids.carol, ['read'])))).not.toContain(4);
      expect(await visible(anyOf(grantedTo(ids.carol, ['read'])))).not.toContain(3);
      expect(await visible(anyOf(grantedTo(ids.carol, ['read'], 'folders')))).toEqual([4]);
    });

    it('matches nothing for a grant without actions or for a principal id that is not a uuid', async () => {
      expect(await visible(anyOf(grantedTo(ids.carol, [])))).toEqual([]);
      expect(await visible(anyOf(grantedTo('carol', ['read'])))).toEqual([]);
    });

    it('combines conditions: a department and not confidential (all-of)', async () => {
      expect(await visible(anyOf(openInDepartment('sales')))).toEqual([1, 3, 6]);
      expect(await visible(anyOf(openInDepartment('hr')))).toEqual([5, 8]);
    });

    it('unites the conditions of any-of: owner, grant or open in the department', async () => {
      const carol = anyOf(ownedBy(ids.carol), grantedTo(ids.carol, ['read']), openInDepartment('sales'));

      expect(await visible(carol)).toEqual([1, 3, 5, 6, 7]);
    });

    it('lets everything through, and nothing through for nothing, an empty any-of or an empty all-of', async () => {
      expect(await visible({ kind: 'everything' })).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(await visible({ kind: 'nothing' })).toEqual([]);
      expect(await visible(anyOf())).toEqual([]);
      expect(await visible(anyOf({ kind: 'all-of', conditions: [] }))).toEqual([]);
    });

    it('returns nothing extra for injection attempts in values', async () => {
      for (const value of ["sales' OR '1'='1", "') OR 1=1 --", "sales'; DELETE FROM docs; --", 'sales" OR 1=1']) {
        expect(await visible(anyOf({ kind: 'column-equals', column: 'department', value }))).toEqual([]);
        expect(await visible(anyOf(grantedTo(ids.carol, [value])))).toEqual([7]); // only the * grant
        expect(await visible(anyOf(grantedTo(ids.carol, ['read'], value)))).toEqual([]);
      }
      // A uuid column compared with a hostile string: Postgres refuses the value, it never runs it.
      await expect(visible(anyOf(ownedBy("') OR 1=1 --")))).rejects.toMatchObject({
        driverError: { code: '22P02' },
      });
      const [{ n }] = await dataSource.query(`SELECT count(*)::int AS n FROM docs`);
      expect(n).toBe(8);
    });

    it('refuses hostile identifiers before any SQL is sent', () => {
      expect(() =>
        restrictToAccessible(docsQuery(), anyOf({ kind: 'column-equals', column: 'id OR 1=1', value: 1 })),
      ).toThrow(TypeError);
      const badAlias = dataSource.createQueryBuilder().select('x.id', 'id').from('docs', 'X');
      expect(() => restrictToAccessible(badAlias, { kind: 'everything' })).toThrow(TypeError);
    });

    it('keeps conditions added before together, so an earlier orWhere cannot escape the restriction', async () => {
      const qb = docsQuery().where('d.id = :first', { first: 1 }).orWhere('d.id = :second', { second: 5 });

      expect(await idsOf(restrictToAccessible(qb, anyOf(ownedBy(ids.bob))))).toEqual([5]);
    });

    it('combines two restrictions on one query without mixing their parameters', async () => {
      const qb = restrictToAccessible(
        restrictToAccessible(docsQuery(), anyOf(ownedBy(ids.bob))),
        anyOf({ kind: 'column-equals', column: 'department', value: 'sales' }),
      );

      expect(await idsOf(qb)).toEqual([3, 4]);
      expect(qb.getParameters()).toEqual({ access_0_p0: ids.bob, access_1_p0: 'sales' });
    });

    it('restricts counts and pages too', async () => {
      const scope = anyOf(ownedBy(ids.bob));

      expect(await restrictToAccessible(docsQuery(), scope).getCount()).toBe(4);
      expect(await idsOf(restrictToAccessible(docsQuery(), scope).offset(1).limit(2))).toEqual([4, 5]);
    });

    it('works on an entity query builder, whose property names differ from the columns', async () => {
      const qb = dataSource.getRepository(DocEntity).createQueryBuilder('doc').orderBy('doc.id');
      const scope = anyOf(grantedTo(ids.carol, ['read']), openInDepartment('sales'));

      const docs = await restrictToAccessible(qb, scope).getMany();

      expect(docs.map((doc) => doc.id)).toEqual([1, 3, 5, 6, 7]);
      expect(docs[0]).toMatchObject({ ownerId: ids.alice, department: 'sales', confidential: false });
    });

    it('compares uuid ids through their text form', async () => {
      const qb = dataSource.createQueryBuilder().select('n.id', 'id').from('notes', 'n').orderBy('n.id');

      const rows = await restrictToAccessible(qb, anyOf(grantedTo(ids.carol, ['read'], 'notes'))).getRawMany();

      expect(rows.map((row: { id: string }) => row.id)).toEqual([noteIds[1]]);
    });
  });
}
