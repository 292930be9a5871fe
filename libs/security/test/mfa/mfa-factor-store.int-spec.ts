import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryMfaFactorStore } from '../../src/mfa/adapters/memory-mfa-factor.store.js';
import { TypeOrmMfaFactorStore } from '../../src/mfa/adapters/typeorm-mfa-factor.store.js';
import { SECURITY_ENTITIES, SECURITY_MIGRATIONS } from '../../src/persistence/index.js';
import { MfaFactors1765100000000 } from '../../src/persistence/migrations/1765100000000-mfa-factors.js';
import { MemoryPrincipalStore } from '../../src/principals/adapters/memory-principal.store.js';
import { TypeOrmPrincipalStore } from '../../src/principals/adapters/typeorm-principal.store.js';
import { at } from '../stores/contract-support.js';
import { POSTGRES_TARGETS, useMigratedDatabase, type PostgresTarget } from '../support/migrated-database.js';
import { describeMfaFactorStoreContract, recoveryHashes, sealedSecret } from './mfa-factor-store.contract.js';

// Up to this suite's migration.
const MIGRATIONS = SECURITY_MIGRATIONS.slice(0, SECURITY_MIGRATIONS.indexOf(MfaFactors1765100000000) + 1);

describe('memory adapter', () => {
  describeMfaFactorStoreContract('memory', async () => ({
    store: new MemoryMfaFactorStore(),
    principals: new MemoryPrincipalStore(),
    cleanup: async () => {},
  }));
});

for (const target of POSTGRES_TARGETS) describePostgres(target);

function describePostgres({ label, open }: PostgresTarget): void {
  describe(`TypeORM MFA factor store on ${label}`, () => {
    const db = useMigratedDatabase(open, { entities: [...SECURITY_ENTITIES], migrations: MIGRATIONS });
    const { statementsOf } = db;

    // Every test starts from empty tables. audit_events is append-only (its triggers refuse TRUNCATE) and
    // references no principal, so the cascade leaves it alone.
    const truncate = () => db.dataSource.query('TRUNCATE mfa_recovery_codes, mfa_factors, principals CASCADE');

    describeMfaFactorStoreContract('typeorm', async () => {
      await truncate();
      return {
        store: new TypeOrmMfaFactorStore(db.dataSource),
        principals: new TypeOrmPrincipalStore(db.dataSource),
        cleanup: async () => {},
      };
    });

    describe('in the database', () => {
      let store: TypeOrmMfaFactorStore;
      let principals: TypeOrmPrincipalStore;

      beforeEach(async () => {
        await truncate();
        store = new TypeOrmMfaFactorStore(db.dataSource);
        principals = new TypeOrmPrincipalStore(db.dataSource);
      });

      const count = async (table: string, principalId: string) => {
        const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM ${table} WHERE principal_id = $1`, [
          principalId,
        ]);
        return n as number;
      };

      it('deletes the factor and the recovery codes of a deleted principal, and only those', async () => {
        const alice = (await principals.create({ kind: 'user', username: 'alice' })).id;
        const bob = (await principals.create({ kind: 'user', username: 'bob' })).id;
        for (const id of [alice, bob]) {
          const secret = sealedSecret();
          await store.savePending(id, secret, at(0));
          expect(await store.activate(id, secret, recoveryHashes(10), 59_000_000, at(1))).toBe(true);
        }

        await db.dataSource.query(`DELETE FROM principals WHERE id = $1`, [alice]);

        expect(await store.get(alice)).toBeUndefined();
        expect(await count('mfa_factors', alice)).toBe(0);
        expect(await count('mfa_recovery_codes', alice)).toBe(0);
        expect(await store.get(bob)).toMatchObject({ principalId: bob, lastUsedStep: 59_000_000 });
        expect(await store.remainingRecoveryCodes(bob)).toBe(10);
      });

      it('refuses, through the foreign key, a factor of an unknown principal', async () => {
        await expect(store.savePending(randomUUID(), sealedSecret(), at(0))).rejects.toMatchObject({
          driverError: { code: '23503', constraint: 'mfa_factors_principal_id_fkey' },
        });
      });

      it('stores only ciphertext, the key version and hashes: nothing else of the factor', async () => {
        const alice = (await principals.create({ kind: 'user', username: 'alice' })).id;
        const secret = sealedSecret('v3');
        const hashes = recoveryHashes(4);
        await store.savePending(alice, secret, at(0));
        await store.activate(alice, secret, hashes, 59_000_000, at(1));

        const [row] = await db.dataSource.query(`SELECT * FROM mfa_factors WHERE principal_id = $1`, [alice]);
        const codes: Array<{ code_hash: string; used_at: Date | null }> = await db.dataSource.query(
          `SELECT code_hash, used_at FROM mfa_recovery_codes WHERE principal_id = $1 ORDER BY code_hash`,
          [alice],
        );

        expect(row).toMatchObject({
          secret_ciphertext: secret.ciphertext,
          secret_key_version: 'v3',
          pending_ciphertext: null,
          pending_key_version: null,
          last_used_step: '59000000',
        });
        expect(codes).toEqual([...hashes].sort().map((code_hash) => ({ code_hash, used_at: null })));
      });

      it('checks a step and uses a recovery code in one statement each', async () => {
        const alice = (await principals.create({ kind: 'user', username: 'alice' })).id;
        const secret = sealedSecret();
        const hashes = recoveryHashes(4);
        await store.savePending(alice, secret, at(0));
        await store.activate(alice, secret, hashes, 59_000_000, at(1));

        expect(await statementsOf(() => store.claimStep(alice, 59_000_001))).toHaveLength(1);
        expect(await statementsOf(() => store.claimStep(alice, 59_000_001))).toHaveLength(1);
        expect(await statementsOf(() => store.consumeRecoveryCode(alice, hashes[0]!, at(2)))).toHaveLength(1);
        expect(await statementsOf(() => store.get(alice))).toHaveLength(1);
        expect(await statementsOf(() => store.savePending(alice, sealedSecret(), at(3)))).toHaveLength(1);
      });

      it('accepts exactly one of 10 concurrent claims of one step from two store instances', async () => {
        const alice = (await principals.create({ kind: 'user', username: 'alice' })).id;
        const secret = sealedSecret();
        await store.savePending(alice, secret, at(0));
        await store.activate(alice, secret, recoveryHashes(), 59_000_000, at(1));
        const stores = [store, new TypeOrmMfaFactorStore(db.dataSource)];

        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => stores[i % 2]!.claimStep(alice, 59_000_001)),
        );

        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('activates exactly once when two activations of the same pending secret race', async () => {
        const alice = (await principals.create({ kind: 'user', username: 'alice' })).id;
        const secret = sealedSecret();
        await store.savePending(alice, secret, at(0));
        const batches = [recoveryHashes(5), recoveryHashes(6)];

        const results = await Promise.all(
          batches.map((hashes, i) => store.activate(alice, secret, hashes, 59_000_000 + i, at(1))),
        );

        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true);
        expect(await store.remainingRecoveryCodes(alice)).toBe(batches[winner]!.length);
        expect((await store.get(alice))?.lastUsedStep).toBe(59_000_000 + winner);
      });
    });

    describe('migration MfaFactors1765100000000', () => {
      it('runs after the earlier migrations', async () => {
        const applied = await db.appliedMigrations();

        expect(applied).toEqual(MIGRATIONS.map((m) => new m().name));
        expect(applied.at(-1)).toBe('MfaFactors1765100000000');
      });

      it('creates the columns with their types, nullability and defaults', async () => {
        const columns = await db.columnsOf(['mfa_factors', 'mfa_recovery_codes']);

        expect(columns('mfa_factors')).toEqual([
          ['principal_id', 'uuid', 'not null', null],
          ['secret_ciphertext', 'text', 'null', null],
          ['secret_key_version', 'text', 'null', null],
          ['pending_ciphertext', 'text', 'null', null],
          ['pending_key_version', 'text', 'null', null],
          ['last_used_step', 'bigint', 'null', null],
          ['created_at', 'timestamp with time zone', 'not null', 'now()'],
          ['activated_at', 'timestamp with time zone', 'null', null],
        ]);
        expect(columns('mfa_recovery_codes')).toEqual([
          ['principal_id', 'uuid', 'not null', null],
          ['code_hash', 'character(64)', 'not null', null],
          ['used_at', 'timestamp with time zone', 'null', null],
        ]);
      });

      it('creates the primary keys and the cascading foreign keys', async () => {
        const constraints = await db.constraintsOf(['mfa_factors', 'mfa_recovery_codes'], ['p', 'f', 'c', 'u']);

        expect(constraints).toEqual({
          mfa_factors_pkey: 'PRIMARY KEY (principal_id)',
          mfa_factors_principal_id_fkey: 'FOREIGN KEY (principal_id) REFERENCES principals(id) ON DELETE CASCADE',
          mfa_recovery_codes_pkey: 'PRIMARY KEY (principal_id, code_hash)',
          mfa_recovery_codes_principal_id_fkey:
            'FOREIGN KEY (principal_id) REFERENCES principals(id) ON DELETE CASCADE',
        });
      });

      it('matches the entities: TypeORM finds nothing to change in the MFA tables but the usual principals keys', async () => {
        const sql = await db.dataSource.driver.createSchemaBuilder().log();
        const statements = sql.upQueries
          .map((q) => q.query)
          .filter((q) => q.includes('"mfa_factors"') || q.includes('"mfa_recovery_codes"'));

        // TypeORM always sees a change in the default of principals.id and so drops and re-creates every
        // foreign key to principals: the ones it would re-create must be the migration's.
        expect(statements.sort()).toEqual(
          [
            'ALTER TABLE "mfa_factors" DROP CONSTRAINT "mfa_factors_principal_id_fkey"',
            'ALTER TABLE "mfa_recovery_codes" DROP CONSTRAINT "mfa_recovery_codes_principal_id_fkey"',
            'ALTER TABLE "mfa_factors" ADD CONSTRAINT "mfa_factors_principal_id_fkey" FOREIGN KEY ("principal_id") ' +
              'REFERENCES "principals"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
            'ALTER TABLE "mfa_recovery_codes" ADD CONSTRAINT "mfa_recovery_codes_principal_id_fkey" FOREIGN KEY ' +
              '("principal_id") REFERENCES "principals"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
          ].sort(),
        );
      });

      // Last: it drops the tables, then puts them back for whatever runs after.
      it('undoes the migration, dropping the MFA tables only, and runs it again', async () => {
        await db.dataSource.undoLastMigration();

        expect(await db.tableExists('mfa_factors')).toBe(false);
        expect(await db.tableExists('mfa_recovery_codes')).toBe(false);
        expect(await db.tableExists('principals')).toBe(true);
        expect(await db.tableExists('deprecated_calls')).toBe(true);

        await db.dataSource.runMigrations();
        expect(await db.tableExists('mfa_factors')).toBe(true);
        expect(await db.tableExists('mfa_recovery_codes')).toBe(true);
      });
    });
  });
}
