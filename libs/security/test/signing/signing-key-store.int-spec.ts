import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { SECURITY_ENTITIES, SECURITY_MIGRATIONS } from '../../src/persistence/index.js';
import { SigningKeys1764800000000 } from '../../src/persistence/migrations/1764800000000-signing-keys.js';
import { MemoryPrincipalStore } from '../../src/principals/adapters/memory-principal.store.js';
import { TypeOrmPrincipalStore } from '../../src/principals/adapters/typeorm-principal.store.js';
import { MemorySigningKeyStore } from '../../src/signing/adapters/memory-signing-key.store.js';
import { TypeOrmSigningKeyStore } from '../../src/signing/adapters/typeorm-signing-key.store.js';
import { SigningKeyEntity } from '../../src/signing/signing-key.entity.js';
import { POSTGRES_TARGETS, useMigratedDatabase, type PostgresTarget } from '../support/migrated-database.js';
import {
  describeSigningKeyStoreContract,
  newEd25519SigningKey,
  newHmacSigningKey,
  randomAccessKeyId,
} from './signing-key-store.contract.js';

// Up to this suite's migration: the last test undoes it.
const MIGRATIONS = SECURITY_MIGRATIONS.slice(0, SECURITY_MIGRATIONS.indexOf(SigningKeys1764800000000) + 1);
const ENTITIES = [...new Set([...SECURITY_ENTITIES, SigningKeyEntity])];

describe('memory adapter', () => {
  describeSigningKeyStoreContract('memory', async () => {
    const principals = new MemoryPrincipalStore();
    return { store: new MemorySigningKeyStore(principals), principals, cleanup: async () => {} };
  });

  it('accepts any principal without a principal store', async () => {
    const store = new MemorySigningKeyStore();
    const key = newHmacSigningKey(randomUUID());

    expect(await store.create(key)).toMatchObject({ accessKeyId: key.accessKeyId });
  });
});

for (const target of POSTGRES_TARGETS) describePostgres(target);

function describePostgres({ label, open }: PostgresTarget): void {
  describe(`TypeORM signing key store on ${label}`, () => {
    const db = useMigratedDatabase(open, { entities: ENTITIES, migrations: MIGRATIONS });
    const { statementsOf, tableExists } = db;

    // Every test starts from empty tables. audit_events is append-only (its triggers refuse TRUNCATE) and
    // references no principal, so it is left alone.
    const truncate = () =>
      db.dataSource.query(
        'TRUNCATE signing_keys, resource_grants, api_keys, principal_roles, role_permissions, roles, principals',
      );

    describeSigningKeyStoreContract('typeorm', async () => {
      await truncate();
      return {
        store: new TypeOrmSigningKeyStore(db.dataSource),
        principals: new TypeOrmPrincipalStore(db.dataSource),
        cleanup: async () => {},
      };
    });

    describe('round trips', () => {
      beforeEach(truncate);

      it('reads and writes each operation in one statement', async () => {
        const keys = new TypeOrmSigningKeyStore(db.dataSource);
        const principalId = (await new TypeOrmPrincipalStore(db.dataSource).create({ kind: 'user', username: 'x' })).id;
        const key = newHmacSigningKey(principalId);

        expect(await statementsOf(() => keys.create(key))).toHaveLength(1);
        expect(await statementsOf(() => keys.findById(key.accessKeyId))).toHaveLength(1);
        expect(await statementsOf(() => keys.list(principalId))).toHaveLength(1);
        expect(await statementsOf(() => keys.revoke(key.accessKeyId, new Date()))).toHaveLength(1);
        expect(await statementsOf(() => keys.revokeAllOf(principalId, new Date()))).toHaveLength(1);
      });
    });

    describe('migration SigningKeys1764800000000', () => {
      beforeEach(truncate);

      it('runs after the earlier migrations', async () => {
        const applied = await db.appliedMigrations();

        expect(applied).toEqual(MIGRATIONS.map((m) => new m().name));
        expect(applied.at(-1)).toBe('SigningKeys1764800000000');
      });

      it('creates the columns with their types, nullability and defaults', async () => {
        const columns = await db.columnsOf(['signing_keys']);

        expect(columns('signing_keys')).toEqual([
          ['access_key_id', 'text', 'not null', null],
          ['principal_id', 'uuid', 'not null', null],
          ['name', 'character varying(100)', 'not null', null],
          ['algorithm', 'text', 'not null', null],
          ['secret_ciphertext', 'text', 'null', null],
          ['master_key_version', 'text', 'null', null],
          ['public_key', 'text', 'null', null],
          ['created_at', 'timestamp with time zone', 'not null', 'now()'],
          ['revoked_at', 'timestamp with time zone', 'null', null],
        ]);
      });

      it('creates the primary key, the principal index, the cascading foreign key and the checks', async () => {
        const indexes = await db.indexesOf(['signing_keys']);
        const constraints = await db.constraintsOf(['signing_keys'], ['p', 'f', 'c']);

        expect(indexes).toEqual({
          signing_keys_pkey: 'btree (access_key_id)',
          signing_keys_principal_id_idx: 'btree (principal_id)',
        });
        expect(constraints).toEqual({
          signing_keys_pkey: 'PRIMARY KEY (access_key_id)',
          signing_keys_principal_id_fkey: 'FOREIGN KEY (principal_id) REFERENCES principals(id) ON DELETE CASCADE',
          signing_keys_algorithm_check: expect.stringMatching(/algorithm.*'hmac-sha256'.*'ed25519'/),
          signing_keys_material_check: expect.stringMatching(/secret_ciphertext IS NOT NULL.*public_key IS NOT NULL/),
        });
      });

      it('matches the entity: TypeORM finds nothing to change in signing_keys', async () => {
        const sql = await db.dataSource.driver.createSchemaBuilder().log();
        const statements = sql.upQueries.map((q) => q.query).filter((q) => q.includes('"signing_keys"'));

        // TypeORM always sees a change in the default of principals.id (gen_random_uuid()) and so drops
        // and re-creates every foreign key to principals: the one it would re-create must be the migration's.
        expect(statements).toEqual([
          'ALTER TABLE "signing_keys" DROP CONSTRAINT "signing_keys_principal_id_fkey"',
          'ALTER TABLE "signing_keys" ADD CONSTRAINT "signing_keys_principal_id_fkey" FOREIGN KEY ("principal_id") ' +
            'REFERENCES "principals"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
        ]);
      });

      it('stores and reads keys through the entity', async () => {
        const principalId = (await new TypeOrmPrincipalStore(db.dataSource).create({ kind: 'user', username: 'x' })).id;
        const repository = db.dataSource.getRepository(SigningKeyEntity);
        const key = newEd25519SigningKey(principalId);
        await repository.insert({ ...key, revokedAt: null });

        const row = await repository.findOneByOrFail({ accessKeyId: key.accessKeyId });
        expect(row).toMatchObject({ ...key, revokedAt: null });
        expect(row.createdAt).toBeInstanceOf(Date);
        expect(await new TypeOrmSigningKeyStore(db.dataSource).findById(key.accessKeyId)).toMatchObject(key);
      });

      it('refuses, in the database itself, an unknown algorithm and material that does not fit the algorithm', async () => {
        const principalId = (await new TypeOrmPrincipalStore(db.dataSource).create({ kind: 'user', username: 'x' })).id;
        // Straight SQL: the adapter would refuse these before the database sees them.
        const insert = (algorithm: string, secret: string | null, version: string | null, publicKey: string | null) =>
          db.dataSource.query(
            `INSERT INTO signing_keys (access_key_id, principal_id, name, algorithm, secret_ciphertext,
               master_key_version, public_key) VALUES ($1, $2, 'k', $3, $4, $5, $6)`,
            [randomAccessKeyId(), principalId, algorithm, secret, version, publicKey],
          );
        const violates = (constraint: string) => ({ driverError: { code: '23514', constraint } });

        await expect(insert('rsa-sha256', 'c', 'v1', null)).rejects.toMatchObject(
          violates('signing_keys_algorithm_check'),
        );
        await expect(insert('hmac-sha256', null, 'v1', null)).rejects.toMatchObject(
          violates('signing_keys_material_check'),
        );
        await expect(insert('hmac-sha256', 'c', null, null)).rejects.toMatchObject(
          violates('signing_keys_material_check'),
        );
        await expect(insert('hmac-sha256', 'c', 'v1', 'pem')).rejects.toMatchObject(
          violates('signing_keys_material_check'),
        );
        await expect(insert('ed25519', null, null, null)).rejects.toMatchObject(
          violates('signing_keys_material_check'),
        );
        await expect(insert('ed25519', 'c', 'v1', 'pem')).rejects.toMatchObject(
          violates('signing_keys_material_check'),
        );
        await insert('hmac-sha256', 'c', 'v1', null);
        await insert('ed25519', null, null, 'pem');
        const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM signing_keys`);
        expect(n).toBe(2);
      });

      it('deletes the keys of a deleted principal, and only those', async () => {
        const principals = new TypeOrmPrincipalStore(db.dataSource);
        const keys = new TypeOrmSigningKeyStore(db.dataSource);
        const alice = await principals.create({ kind: 'user', username: 'alice' });
        const bob = await principals.create({ kind: 'user', username: 'bob' });
        const aliceKey = await keys.create(newHmacSigningKey(alice.id));
        const bobKey = await keys.create(newEd25519SigningKey(bob.id));

        await db.dataSource.query(`DELETE FROM principals WHERE id = $1`, [alice.id]);

        expect(await keys.findById(aliceKey.accessKeyId)).toBeNull();
        expect(await keys.findById(bobKey.accessKeyId)).toEqual(bobKey);
      });

      it('maps the foreign-key violation of an unknown uuid to ERR_SECURITY_UNKNOWN_PRINCIPAL', async () => {
        // The adapter relies on the foreign key, not on a prior look-up.
        await expect(
          new TypeOrmSigningKeyStore(db.dataSource).create(newHmacSigningKey(randomUUID())),
        ).rejects.toMatchObject({ code: 'ERR_SECURITY_UNKNOWN_PRINCIPAL' });
      });

      // Last: it drops the table, then puts it back for whatever runs after.
      it('undoes the migration, dropping signing_keys only, and runs it again', async () => {
        await db.dataSource.undoLastMigration();

        expect(await tableExists('signing_keys')).toBe(false);
        expect(await tableExists('principals')).toBe(true);
        expect(await tableExists('api_keys')).toBe(true);
        expect(await tableExists('audit_events')).toBe(true);

        const applied = await db.dataSource.runMigrations();
        expect(applied.map((m) => m.name)).toEqual(['SigningKeys1764800000000']);
        expect(await tableExists('signing_keys')).toBe(true);
      });
    });
  });
}
