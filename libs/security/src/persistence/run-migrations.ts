import { MigrationExecutor, type DataSource, type Migration } from 'typeorm';

/** Key of the session advisory lock held while migrations run ('nas-migr' in ASCII). */
export const MIGRATIONS_LOCK_KEY = 0x6e61732d6d696772n;

/**
 * Runs the pending migrations of `dataSource` (the library's and the application's, each in its own
 * transaction) while holding a PostgreSQL advisory lock, so that instances started together on one
 * database migrate it once: the others wait for the lock, then find nothing pending. TypeORM's own
 * `migrationsRun` takes no lock, and two instances booting at once then race on the same `CREATE TABLE`.
 * The lock and the migrations share one connection, so a pool of one (the embedded database) is enough.
 * Returns the migrations this call applied.
 * @example
 * TypeOrmModule.forRootAsync({
 *   useFactory: () => ({ ...securityDataSourceOptions({ url }), migrationsRun: false }),
 *   dataSourceFactory: async (options) => {
 *     const dataSource = await new DataSource(options!).initialize();
 *     await runMigrationsExclusively(dataSource);
 *     return dataSource;
 *   },
 * });
 */
export async function runMigrationsExclusively(dataSource: DataSource): Promise<Migration[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATIONS_LOCK_KEY.toString()]);
    try {
      const executor = new MigrationExecutor(dataSource, runner);
      executor.transaction = 'each';
      return await executor.executePendingMigrations();
    } finally {
      // Released with the session too, should this query fail (a dropped connection).
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATIONS_LOCK_KEY.toString()]).catch(() => undefined);
    }
  } finally {
    await runner.release();
  }
}
