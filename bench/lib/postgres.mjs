// PostgreSQL helpers shared by the benchmarks that need a database: each run creates its own
// `nas_bench_<hex>` on the server of `--database-url` (whose own database is only used to create and drop
// it), migrates it with the library's SECURITY_MIGRATIONS and drops it at the end.
import { randomBytes } from 'node:crypto';
import { redactUrl } from './cli.mjs';

/** `BENCH_DATABASE_URL`, then `TEST_DATABASE_URL`, then the local server's `test` database. */
export const DEFAULT_DATABASE_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CONNECT_TIMEOUT_MS = 2_000;

/**
 * Creates a database `nas_bench_<hex>` on the server of `adminUrl`; returns its name, its URL and `drop()`
 * (`DROP … WITH (FORCE)`: connections still open to it are ended), which the caller registers as a
 * cleanup. `hint` ends the error message when the server cannot be reached.
 */
export async function createDatabase(adminUrl, { hint = 'start PostgreSQL or pass --database-url' } = {}) {
  const { default: pg } = await import('pg');
  const withClient = async (use) => {
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    client.on('error', () => {});
    await client.connect();
    try {
      return await use(client);
    } finally {
      await client.end().catch(() => {});
    }
  };
  const name = `nas_bench_${randomBytes(6).toString('hex')}`;
  try {
    await withClient((client) => client.query(`CREATE DATABASE "${name}"`));
  } catch (error) {
    throw new Error(`cannot create a database on ${redactUrl(adminUrl)} (${error.message}); ${hint}`);
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => withClient((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)),
  };
}

/**
 * A TypeORM DataSource from the library's `securityDataSourceOptions` (`lib`: the compiled library's
 * exports), initialised and migrated; the caller destroys it. `poolSize` connections (10); `settings` are
 * PostgreSQL settings for this pool's sessions only (e.g. `{ synchronous_commit: 'off' }` while seeding).
 */
export async function openDataSource(lib, url, { poolSize = 10, settings = {} } = {}) {
  const { DataSource } = await import('typeorm');
  const options = lib.securityDataSourceOptions({ url, poolSize });
  const startup = Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`);
  if (startup.length > 0) options.extra = { ...options.extra, options: startup.join(' ') };
  const dataSource = new DataSource(options);
  // The options already list SECURITY_MIGRATIONS; checked so a change there cannot go unnoticed.
  if (dataSource.options.migrations.length !== lib.SECURITY_MIGRATIONS.length) {
    throw new Error('securityDataSourceOptions no longer lists SECURITY_MIGRATIONS');
  }
  await dataSource.initialize();
  try {
    await dataSource.runMigrations();
  } catch (error) {
    await dataSource.destroy().catch(() => {});
    throw error;
  }
  return dataSource;
}
