import { DataSource } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { securityDataSourceOptions } from '../../src/persistence/data-source-options.js';
import { EMBEDDED_POOL_SIZE } from '../../src/persistence/embedded-postgres.js';
import { SECURITY_MIGRATIONS } from '../../src/persistence/index.js';
import { DeprecatedCalls1764900000000 } from '../../src/persistence/migrations/1764900000000-deprecated-calls.js';
import { MemoryDeprecationUsageStore } from '../../src/versioning/adapters/memory-deprecation-usage.store.js';
import { TypeOrmDeprecationUsageStore } from '../../src/versioning/adapters/typeorm-deprecation-usage.store.js';
import { POSTGRES_TARGETS, useMigratedDatabase, type PostgresTarget } from '../support/migrated-database.js';
import {
  callCount,
  describeDeprecationUsageStoreContract,
  refusePoisonRows,
  seen,
} from './deprecation-usage-store.contract.js';

describeDeprecationUsageStoreContract('memory', async () => ({
  store: new MemoryDeprecationUsageStore(),
  cleanup: async () => {},
}));

describe('MemoryDeprecationUsageStore', () => {
  it('is the memory kind', () => {
    expect(new MemoryDeprecationUsageStore().kind).toBe('memory');
  });
});

for (const target of POSTGRES_TARGETS) describePostgres(target);

function describePostgres({ label, open, alwaysEmbedded }: PostgresTarget): void {
  describe(`TypeORM deprecation usage store on ${label}`, () => {
    // Every library migration, as an application runs them.
    const db = useMigratedDatabase(open);
    // A second instance of the application: its own pool on the same database.
    let other: DataSource | undefined;

    beforeAll(async () => {
      other = await new DataSource(
        securityDataSourceOptions({ url: db.url, poolSize: db.embedded ? EMBEDDED_POOL_SIZE : 4 }),
      ).initialize();
    });

    afterAll(async () => {
      await other?.destroy();
    });

    const truncate = () => db.dataSource.query('TRUNCATE deprecated_calls');

    describeDeprecationUsageStoreContract('typeorm', async () => {
      await truncate();
      return { store: new TypeOrmDeprecationUsageStore(db.dataSource), cleanup: async () => {} };
    });

    describe('with other instances', () => {
      beforeEach(truncate);

      it('is the postgres kind', () => {
        expect(new TypeOrmDeprecationUsageStore(db.dataSource).kind).toBe('postgres');
      });

      it('loses no count when two instances add to the same row concurrently', async () => {
        const stores = [new TypeOrmDeprecationUsageStore(db.dataSource), new TypeOrmDeprecationUsageStore(other!)];

        await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            stores[i % 2]!.add([
              callCount({
                count: 1,
                refused: i % 4 === 0 ? 1 : 0,
                firstSeenAt: seen(100 + i),
                lastSeenAt: seen(200 + i),
                lastPhase: i === 39 ? 'gone' : 'deprecated',
              }),
            ]),
          ),
        );

        expect(await stores[0]!.list()).toEqual([
          callCount({ count: 40, refused: 10, firstSeenAt: seen(100), lastSeenAt: seen(239), lastPhase: 'gone' }),
        ]);
      });

      it('loses no count when two instances add many rows concurrently', async () => {
        const stores = [new TypeOrmDeprecationUsageStore(db.dataSource), new TypeOrmDeprecationUsageStore(other!)];
        const rows = Array.from({ length: 200 }, (_, i) =>
          callCount({ principalId: `p-${String(i).padStart(3, '0')}` }),
        );

        await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % 2]!.add(rows)));

        const listed = await stores[0]!.list();
        expect(listed).toHaveLength(200);
        expect(listed.every((row) => row.count === 20)).toBe(true);
      });

      // Rows are upserted in one fixed order, so two instances never lock the same rows in opposite orders.
      // Made deterministic with a third session holding the middle row.
      // PGlite runs one session: statements never wait for each other's locks there, so the test is not defined
      // there (it skips, visibly, only where no PostgreSQL server answers, which CI does not allow).
      if (!alwaysEmbedded)
        it('does not deadlock when two instances add the same rows in opposite orders', async (ctx) => {
          if (db.embedded) ctx.skip();
          const stores = [new TypeOrmDeprecationUsageStore(db.dataSource), new TypeOrmDeprecationUsageStore(other!)];
          const rows = ['/a', '/m', '/z'].map((path) => callCount({ path }));
          await stores[0]!.add(rows);
          const blocker = db.dataSource.createQueryRunner();
          await blocker.connect();
          let first: Promise<void>;
          let second: Promise<void>;
          try {
            await blocker.startTransaction();
            await blocker.query(`SELECT 1 FROM deprecated_calls WHERE path = '/m' FOR UPDATE`);
            first = stores[0]!.add(rows);
            second = stores[1]!.add([...rows].reverse());
            // Both adds hold their first row and wait for the middle one.
            await expect
              .poll(
                async () =>
                  (
                    await other!.query(
                      `SELECT count(*)::int AS n FROM pg_stat_activity
                      WHERE datname = current_database() AND wait_event_type = 'Lock'`,
                    )
                  )[0].n,
                { timeout: 5_000 },
              )
              .toBe(2);
          } finally {
            if (blocker.isTransactionActive) await blocker.commitTransaction();
            await blocker.release();
          }
          const settled = await Promise.allSettled([first!, second!]);

          expect(settled.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled']);
          expect((await stores[0]!.list()).map((row) => row.count)).toEqual([3, 3, 3]);
        });

      it('sees what another instance added', async () => {
        await new TypeOrmDeprecationUsageStore(other!).add([callCount({ count: 4 })]);

        expect(await new TypeOrmDeprecationUsageStore(db.dataSource).list()).toEqual([callCount({ count: 4 })]);
      });
    });

    describe('round trips', () => {
      beforeEach(truncate);

      // The upserts an add runs (inside its one transaction, whose BEGIN and COMMIT are not counted).
      const upserts = async (run: () => Promise<unknown>) =>
        (await db.statementsOf(run)).filter((sql) => sql.includes('INSERT INTO "deprecated_calls"'));

      it('writes an add of up to 500 rows in one upsert, and nothing for an add of none', async () => {
        const store = new TypeOrmDeprecationUsageStore(db.dataSource);
        const rows = Array.from({ length: 500 }, (_, i) => callCount({ path: `/v1/r/${i}` }));

        expect(await upserts(() => store.add(rows))).toHaveLength(1);
        expect(await upserts(() => store.add([...rows, ...rows]))).toHaveLength(1);
        expect(await db.statementsOf(() => store.add([]))).toHaveLength(0);
        expect(await db.statementsOf(() => store.list())).toHaveLength(1);
      });

      it('writes an add of 501 to 1,000 distinct rows in two upserts', async () => {
        const store = new TypeOrmDeprecationUsageStore(db.dataSource);
        const rows = Array.from({ length: 1_000 }, (_, i) => callCount({ path: `/v1/r/${i}` }));

        expect(await upserts(() => store.add(rows.slice(0, 501)))).toHaveLength(2);
        expect(await upserts(() => store.add(rows))).toHaveLength(2);
      });

      it('stores an absent version, principal and key as the empty string', async () => {
        await new TypeOrmDeprecationUsageStore(db.dataSource).add([
          callCount({ version: null, principalId: null, keyId: null }),
        ]);

        expect(
          await db.dataSource.query(`SELECT "version", "principal_id", "key_id", "count" FROM deprecated_calls`),
        ).toEqual([{ version: '', principal_id: '', key_id: '', count: '1' }]);
      });
    });

    describe('an add that fails part-way', () => {
      // A row the database refuses, so that the statement of the second batch fails after the first one
      // was written (as a dropped connection or a deadlock between the two statements would).
      refusePoisonRows(() => db.dataSource);

      beforeEach(truncate);

      it('rejects, and writes nothing of an add of up to 500 rows', async () => {
        const store = new TypeOrmDeprecationUsageStore(db.dataSource);
        const rows = [callCount(), callCount({ path: '/poison' })];

        await expect(store.add(rows)).rejects.toThrow(/poison row refused/);

        expect(await store.list()).toEqual([]);
      });

      // One transaction per add: a failed later batch leaves nothing written, so a retry counts each row once.
      it('writes nothing of an add of more than 500 rows when a later batch fails (all or nothing)', async () => {
        const store = new TypeOrmDeprecationUsageStore(db.dataSource);
        const rows = Array.from({ length: 600 }, (_, i) => callCount({ path: i === 550 ? '/poison' : `/v1/r/${i}` }));

        await expect(store.add(rows)).rejects.toThrow(/poison row refused/);

        expect(await store.list()).toEqual([]);
      });
    });

    describe(`migration ${new DeprecatedCalls1764900000000().name}`, () => {
      it('runs after the signing keys migration, in the order of SECURITY_MIGRATIONS', async () => {
        const applied = await db.appliedMigrations();

        expect(applied).toEqual(SECURITY_MIGRATIONS.map((m) => new m().name));
        expect(applied.indexOf('DeprecatedCalls1764900000000')).toBe(applied.indexOf('SigningKeys1764800000000') + 1);
      });

      it('creates deprecated_calls with its columns', async () => {
        expect(await db.tableExists('deprecated_calls')).toBe(true);
        const columns = await db.columnsOf(['deprecated_calls']);

        expect(columns('deprecated_calls')).toEqual([
          ['version', 'text', 'not null', null],
          ['method', 'text', 'not null', null],
          ['path', 'text', 'not null', null],
          ['principal_id', 'text', 'not null', null],
          ['key_id', 'text', 'not null', null],
          ['count', 'bigint', 'not null', null],
          ['refused', 'bigint', 'not null', null],
          ['first_seen_at', 'timestamp with time zone', 'not null', null],
          ['last_seen_at', 'timestamp with time zone', 'not null', null],
          ['last_phase', 'text', 'not null', null],
        ]);
      });

      it('creates the primary key deprecated_calls_pkey over version, method, path, principal and key', async () => {
        expect(await db.constraintsOf(['deprecated_calls'], ['p', 'f', 'c', 'u'])).toEqual({
          deprecated_calls_pkey: 'PRIMARY KEY (version, method, path, principal_id, key_id)',
        });
        expect(await db.indexesOf(['deprecated_calls'])).toEqual({
          deprecated_calls_pkey: 'btree (version, method, path, principal_id, key_id)',
        });
      });
    });
  });
}
