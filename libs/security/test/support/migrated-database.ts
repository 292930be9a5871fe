import { DataSource, type DataSourceOptions, type Logger } from 'typeorm';
import { afterAll, beforeAll } from 'vitest';
import { testDatabase } from '../../../../test/support/services.js';
import { securityDataSourceOptions } from '../../src/persistence/data-source-options.js';
import { EMBEDDED_POOL_SIZE, startInMemoryPostgres } from '../../src/persistence/embedded-postgres.js';

/** A database a suite opened for itself. */
export interface SuiteDatabase {
  url: string;
  /** PGlite behind its socket: one session, so a pool of `EMBEDDED_POOL_SIZE`; it ignores search_path. */
  embedded: boolean;
  close(): Promise<void>;
}

/** One PostgreSQL a TypeORM suite runs on. */
export interface PostgresTarget {
  /** Ends the suite's title, e.g. `TypeORM adapters on ${label}`. */
  label: string;
  /** True where the database is PGlite whatever the machine has, so known before the suite runs. */
  alwaysEmbedded: boolean;
  open: () => Promise<SuiteDatabase>;
}

/**
 * The databases every TypeORM suite runs on: a real server in a database of its own (PGlite only when
 * none answers, see `testDatabase`), and the in-memory PGlite, since the embedded mode is a default of
 * the demo and the same SQL must run on PGlite behind its socket.
 */
export const POSTGRES_TARGETS: readonly PostgresTarget[] = [
  {
    label: 'PostgreSQL (embedded only when none answers)',
    alwaysEmbedded: false,
    open: async () => {
      const db = await testDatabase();
      return { url: db.url, embedded: db.embedded, close: () => db.drop() };
    },
  },
  {
    label: 'embedded PGlite (in memory)',
    alwaysEmbedded: true,
    open: async () => {
      const server = await startInMemoryPostgres();
      return { url: server.url, embedded: true, close: () => server.close() };
    },
  },
];

/** What `useMigratedDatabase` builds; the library's entities and migrations unless given. */
export interface MigratedDatabaseOptions {
  entities?: DataSourceOptions['entities'];
  migrations?: DataSourceOptions['migrations'];
  /** Whether `beforeAll` runs the migrations (default true); false leaves that to the suite. */
  migrate?: boolean;
}

/** One column as `columnsOf` reads it: name, type, `'null'` or `'not null'`, default. */
export type ColumnShape = [name: string, type: string, nullability: 'null' | 'not null', defaultValue: string | null];

/** A suite's database and its DataSource, usable from `beforeAll` on. */
export interface MigratedDatabase {
  readonly url: string;
  readonly embedded: boolean;
  readonly dataSource: DataSource;
  /** The statements the DataSource sends while `run` runs, to check what must be one round trip. */
  statementsOf: (run: () => Promise<unknown>) => Promise<string[]>;
  tableExists: (table: string) => Promise<boolean>;
  /** The names in security_migrations, oldest first. */
  appliedMigrations: () => Promise<string[]>;
  /** The columns of `tables` in the current schema; the answer gives those of one table, in order. */
  columnsOf: (tables: readonly string[]) => Promise<(table: string) => ColumnShape[]>;
  /** The indexes of `tables` in the current schema: name to definition from `USING` on, e.g. `btree (id)`. */
  indexesOf: (tables: readonly string[]) => Promise<Record<string, string>>;
  /** The constraints of `tables` of the given `pg_constraint.contype`s ('p', 'f', 'c'...): name to definition. */
  constraintsOf: (tables: readonly string[], types: readonly string[]) => Promise<Record<string, string>>;
}

/**
 * Opens the database and its DataSource (pool sized for PGlite where embedded) in `beforeAll`,
 * migrated unless `migrate` is false, and closes both in `afterAll`.
 * @example
 * const db = useMigratedDatabase(target.open, { entities: ENTITIES, migrations: MIGRATIONS });
 * it('keeps principals', async () => expect(await db.tableExists('principals')).toBe(true));
 */
export function useMigratedDatabase(
  open: () => Promise<SuiteDatabase>,
  options: MigratedDatabaseOptions = {},
): MigratedDatabase {
  const { entities, migrations, migrate = true } = options;
  let db: SuiteDatabase | undefined;
  let dataSource: DataSource | undefined;
  const recorder = new RecordingLogger();

  beforeAll(async () => {
    db = await open();
    dataSource = await new DataSource({
      ...securityDataSourceOptions({ url: db.url, poolSize: db.embedded ? EMBEDDED_POOL_SIZE : 4 }),
      ...(entities ? { entities } : {}),
      ...(migrations ? { migrations } : {}),
      logger: recorder,
    }).initialize();
    if (migrate) await dataSource.runMigrations();
  }, 60_000);

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.close();
  });

  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useMigratedDatabase: the database is opened in beforeAll');
    return value;
  };
  const query = <T>(sql: string, params?: unknown[]): Promise<T[]> => ready(dataSource).query(sql, params);

  return {
    get url() {
      return ready(db).url;
    },
    get embedded() {
      return ready(db).embedded;
    },
    get dataSource() {
      return ready(dataSource);
    },
    statementsOf: (run) => recorder.record(run),
    tableExists: async (table) => {
      const [row] = await query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS "exists"`, [table]);
      return row!.exists;
    },
    appliedMigrations: async () =>
      (await query<{ name: string }>(`SELECT name FROM security_migrations ORDER BY timestamp`)).map((m) => m.name),
    columnsOf: async (tables) => {
      const rows = await query<{
        table_name: string;
        column_name: string;
        type: string;
        nullable: string;
        default: string | null;
      }>(
        `SELECT table_name, column_name, is_nullable AS nullable, column_default AS default,
                format_type(a.atttypid, a.atttypmod) AS type
         FROM information_schema.columns c
         JOIN pg_attribute a ON a.attrelid = to_regclass(c.table_name) AND a.attname = c.column_name
         WHERE c.table_schema = current_schema() AND c.table_name = ANY($1)
         ORDER BY table_name, ordinal_position`,
        [tables],
      );
      return (table) =>
        rows
          .filter((r) => r.table_name === table)
          .map((r) => [r.column_name, r.type, r.nullable === 'YES' ? 'null' : 'not null', r.default]);
    },
    indexesOf: async (tables) => {
      const indexes = await query<{ indexname: string; indexdef: string }>(
        `SELECT indexname, indexdef FROM pg_indexes
         WHERE schemaname = current_schema() AND tablename = ANY($1) ORDER BY indexname`,
        [tables],
      );
      return Object.fromEntries(indexes.map((i) => [i.indexname, i.indexdef.replace(/^.* USING /, '')]));
    },
    constraintsOf: async (tables, types) => {
      const constraints = await query<{ conname: string; def: string }>(
        `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
         WHERE contype::text = ANY($2) AND conrelid::regclass::text = ANY($1) ORDER BY conname`,
        [tables, types],
      );
      return Object.fromEntries(constraints.map((k) => [k.conname, k.def]));
    },
  };
}

/** Keeps the statements a DataSource sends while `record` runs, and nothing else. */
class RecordingLogger implements Logger {
  private statements: string[] | undefined;

  async record(run: () => Promise<unknown>): Promise<string[]> {
    const statements: string[] = [];
    this.statements = statements;
    try {
      await run();
    } finally {
      this.statements = undefined;
    }
    return statements;
  }

  logQuery(query: string): void {
    this.statements?.push(query);
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}
