import type { DataSourceOptions, LoggerOptions } from 'typeorm';
import { SECURITY_ENTITIES, SECURITY_MIGRATIONS } from './index.js';

/** Input of `securityDataSourceOptions`. */
export interface SecurityDataSourceConfig {
  /** `postgres://` connection string. */
  url: string;
  /**
   * Schema for the security tables (lower-case identifier; it must exist). Applied through the
   * `search_path` startup parameter, which the embedded PGlite server ignores: leave it unset there.
   */
  schema?: string;
  /** Connections in the `pg` pool (default 10); use `EMBEDDED_POOL_SIZE` for the embedded server. */
  poolSize?: number;
  logging?: LoggerOptions;
}

/**
 * TypeORM options for a Postgres connection that holds only the security tables; apps with their own
 * entities write their own options and spread `SECURITY_ENTITIES` and `SECURITY_MIGRATIONS` in.
 * @example
 * const dataSource = await new DataSource(securityDataSourceOptions({ url })).initialize();
 * await dataSource.runMigrations();
 */
export function securityDataSourceOptions(config: SecurityDataSourceConfig): DataSourceOptions {
  const { url, schema, poolSize = 10, logging = false } = config;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    // It goes unquoted into a startup parameter, where quoting rules differ from SQL's.
    throw new Error(`securityDataSourceOptions: schema must be a lower-case identifier, got ${JSON.stringify(schema)}`);
  }
  return {
    type: 'postgres',
    url,
    // TypeORM qualifies entity tables and its migrations table with `schema`; the migrations' raw
    // SQL is unqualified and follows search_path, so both are set to the same schema.
    ...(schema ? { schema } : {}),
    entities: [...SECURITY_ENTITIES],
    migrations: [...SECURITY_MIGRATIONS],
    migrationsTableName: 'security_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging,
    extra: {
      max: poolSize,
      // A partitioned database must not make requests wait for ever: a connection is given up after
      // 5 s, a query after 30 s (migrations included), and dead peers are noticed by TCP keep-alive.
      connectionTimeoutMillis: 5_000,
      query_timeout: 30_000,
      keepAlive: true,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    },
  };
}
