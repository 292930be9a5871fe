import { spawnSync } from 'node:child_process';
import { access, chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DataSource, QueryFailedError } from 'typeorm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { securityDataSourceOptions } from '../../src/persistence/data-source-options.js';
import {
  startEmbeddedPostgres,
  startInMemoryPostgres,
  type EmbeddedPostgres,
} from '../../src/persistence/embedded-postgres.js';
import { AuditEventEntity, PrincipalEntity, SECURITY_MIGRATIONS } from '../../src/persistence/index.js';
import { POSTGRES_TARGETS, useMigratedDatabase, type PostgresTarget } from '../support/migrated-database.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

for (const target of POSTGRES_TARGETS) describeMigrations(target);

function describeMigrations({ label, open, alwaysEmbedded }: PostgresTarget): void {
  // PGlite ignores search_path (see 'pglite-socket behaviour' below), so the schema test is left out there.
  const schemas = !alwaysEmbedded;
  describe(`security migrations on ${label}`, () => {
    // The first test runs the migrations.
    const db = useMigratedDatabase(open, { migrate: false });
    const { tableExists } = db;

    it('runs the migrations up and records them in security_migrations', async () => {
      const applied = await db.dataSource.runMigrations();

      expect(applied.map((m) => m.name)).toEqual(SECURITY_MIGRATIONS.map((m) => new m().name));
      expect(await db.dataSource.showMigrations()).toBe(false);
      expect(await tableExists('principals')).toBe(true);
      expect(await tableExists('audit_events')).toBe(true);
    });

    it('creates the columns with their types, nullability and defaults', async () => {
      const columns = await db.columnsOf(['principals', 'audit_events']);

      expect(columns('principals')).toEqual([
        ['id', 'uuid', 'not null', 'gen_random_uuid()'],
        ['kind', 'character varying', 'not null', null],
        ['username', 'character varying', 'not null', null],
        ['email', 'character varying', 'null', null],
        ['password_hash', 'character varying', 'null', null],
        ['attributes', 'jsonb', 'not null', `'{}'::jsonb`],
        ['created_at', 'timestamp with time zone', 'not null', 'now()'],
        ['disabled_at', 'timestamp with time zone', 'null', null],
      ]);
      expect(columns('audit_events')).toEqual([
        ['seq', 'bigint', 'not null', null],
        ['id', 'uuid', 'not null', null],
        ['at', 'timestamp with time zone', 'not null', null],
        ['type', 'character varying(64)', 'not null', null],
        ['outcome', 'character varying(16)', 'not null', null],
        ['principal_id', 'uuid', 'null', null],
        ['key_id', 'character varying', 'null', null],
        ['ip', 'character varying', 'null', null],
        ['user_agent', 'character varying(512)', 'null', null],
        ['method', 'character varying(16)', 'null', null],
        ['path', 'character varying(2048)', 'null', null],
        ['status', 'integer', 'null', null],
        ['request_id', 'character varying(64)', 'null', null],
        ['details', 'jsonb', 'not null', `'{}'::jsonb`],
        ['prev_hash', 'character(64)', 'not null', null],
        ['hash', 'character(64)', 'not null', null],
      ]);
    });

    it('creates the keys and indexes', async () => {
      const byName = await db.indexesOf(['principals', 'audit_events']);

      expect(byName).toEqual({
        audit_events_at_idx: 'btree (at)',
        audit_events_id_key: 'btree (id)',
        audit_events_pkey: 'btree (seq)',
        audit_events_principal_id_at_idx: 'btree (principal_id, at)',
        audit_events_type_at_idx: 'btree (type, at)',
        principals_pkey: 'btree (id)',
        principals_username_key: 'btree (username)',
      });
    });

    it('makes audit_events append-only with triggers', async () => {
      const triggers: Array<{ tgname: string }> = await db.dataSource.query(
        `SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass('audit_events') AND NOT tgisinternal ORDER BY tgname`,
      );

      expect(triggers.map((t) => t.tgname)).toEqual(['audit_events_no_truncate', 'audit_events_no_update_delete']);
      // The table is empty here, so only the statement trigger can fire.
      await expect(db.dataSource.query(`TRUNCATE audit_events`)).rejects.toMatchObject({
        driverError: { code: '42501' },
      });
    });

    it('matches the entities: TypeORM finds nothing to synchronize but its uuid-default quirk', async () => {
      const pending = await db.dataSource.driver.createSchemaBuilder().log();

      // TypeORM reads any uuid column defaulting to gen_random_uuid() as `@PrimaryGeneratedColumn('uuid')`,
      // which the entity avoids on purpose (that decorator makes TypeORM install uuid-ossp), so it
      // always proposes to re-set this one default. Anything else is a real drift.
      // To re-set it TypeORM also drops and re-adds, unchanged, the foreign keys pointing at the column;
      // their order follows the catalogue, so the list is compared sorted.
      expect(pending.upQueries.map((q) => q.query).sort()).toEqual(
        [
          `ALTER TABLE "api_keys" DROP CONSTRAINT "api_keys_principal_id_fkey"`,
          `ALTER TABLE "principal_roles" DROP CONSTRAINT "principal_roles_principal_id_fkey"`,
          `ALTER TABLE "resource_grants" DROP CONSTRAINT "resource_grants_principal_id_fkey"`,
          `ALTER TABLE "signing_keys" DROP CONSTRAINT "signing_keys_principal_id_fkey"`,
          `ALTER TABLE "sessions" DROP CONSTRAINT "sessions_principal_id_fkey"`,
          `ALTER TABLE "mfa_factors" DROP CONSTRAINT "mfa_factors_principal_id_fkey"`,
          `ALTER TABLE "mfa_recovery_codes" DROP CONSTRAINT "mfa_recovery_codes_principal_id_fkey"`,
          `ALTER TABLE "principals" ALTER COLUMN "id" DROP DEFAULT`,
          `ALTER TABLE "principals" ALTER COLUMN "id" SET DEFAULT gen_random_uuid()`,
          `ALTER TABLE "principal_roles" ADD CONSTRAINT "principal_roles_principal_id_fkey" FOREIGN KEY ("principal_id") REFERENCES "principals"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
          `ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_principal_id_fkey" FOREIGN KEY ("principal_id") REFERENCES "principals"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
          `ALTER TABLE "resource_grants" ADD CONSTRAINT "resource_grants_principal_id_fkey" FOREIGN KEY ("principal_id") REFERENCES "principals"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
          `ALTER TABLE "signing_keys" ADD CONSTRAINT "signing_keys_principal_id_fkey" FOREIGN KEY ("principal_id") REFERENCES "principals"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
          `ALTER TABLE "sessions" ADD CONSTRAINT "sessions_principal_id_fkey" FOREIGN KEY ("principal_id") REFERENCES "principals"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
          `ALTER TABLE "mfa_factors" ADD CONSTRAINT "mfa_factors_principal_id_fkey" FOREIGN KEY ("principal_id") REFERENCES "principals"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
          `ALTER TABLE "mfa_recovery_codes" ADD CONSTRAINT "mfa_recovery_codes_principal_id_fkey" FOREIGN KEY ("principal_id") REFERENCES "principals"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
        ].sort(),
      );
    });

    it('stores a principal through the repository with database defaults', async () => {
      const principals = db.dataSource.getRepository(PrincipalEntity);

      const saved = await principals.save(
        principals.create({
          kind: 'user',
          username: 'alice',
          attributes: { department: 'sales', level: 2 },
        }),
      );
      const found = await principals.findOneByOrFail({ id: saved.id });

      expect(saved.id).toMatch(UUID);
      expect(found).toMatchObject({
        kind: 'user',
        username: 'alice',
        email: null,
        passwordHash: null,
        attributes: { department: 'sales', level: 2 },
        disabledAt: null,
      });
      expect(found.createdAt).toBeInstanceOf(Date);
      const [{ n }] = await db.dataSource.query(
        `SELECT count(*)::int AS n FROM principals WHERE attributes @> '{"department":"sales"}'`,
      );
      expect(n).toBe(1);
    });

    it('refuses a duplicate username and an unknown kind', async () => {
      const principals = db.dataSource.getRepository(PrincipalEntity);
      await principals.insert({ kind: 'service', username: 'billing' });

      const duplicate = principals.insert({
        kind: 'user',
        username: 'billing',
      });
      await expect(duplicate).rejects.toBeInstanceOf(QueryFailedError);
      await expect(duplicate).rejects.toMatchObject({
        driverError: { code: '23505' },
      });
      const badKind = principals.insert({
        kind: 'robot' as 'user',
        username: 'r2d2',
      });
      await expect(badKind).rejects.toMatchObject({
        driverError: { code: '23514' },
      });
    });

    it('keeps audit sequence numbers above 2^53 exact as strings', async () => {
      const events = db.dataSource.getRepository(AuditEventEntity);
      const seq = '9007199254740993';

      await events.insert({
        seq,
        id: crypto.randomUUID(),
        at: new Date(),
        type: 'KEY_CREATED',
        outcome: 'success',
        prevHash: '0'.repeat(64),
        hash: 'a'.repeat(64),
      });
      const found = await events.findOneByOrFail({ seq });

      expect(found.seq).toBe(seq);
      expect(found.details).toEqual({});
      expect(found.principalId).toBeNull();
    });

    it('commits and rolls back TypeORM transactions, also when two run at once', async () => {
      const insertIn = (username: string, fail: boolean) =>
        db.dataSource.transaction(async (manager) => {
          await manager.insert(PrincipalEntity, { kind: 'user', username });
          await new Promise((done) => setTimeout(done, 20));
          if (fail) throw new Error('rolled back on purpose');
        });

      const results = await Promise.allSettled([insertIn('tx-commit', false), insertIn('tx-rollback', true)]);
      const usernames = (await db.dataSource.getRepository(PrincipalEntity).find()).map((p) => p.username);

      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
      expect(usernames).toContain('tx-commit');
      expect(usernames).not.toContain('tx-rollback');
    });

    it('undoes every migration, dropping every table, and runs them again', async () => {
      for (let i = 0; i < SECURITY_MIGRATIONS.length; i++) await db.dataSource.undoLastMigration();

      for (const table of [
        'principals',
        'audit_events',
        'api_keys',
        'roles',
        'security_changes',
        'resource_grants',
        'signing_keys',
        'deprecated_calls',
        'sessions',
        'mfa_factors',
        'mfa_recovery_codes',
      ]) {
        expect(await tableExists(table)).toBe(false);
      }
      expect(await tableExists('principals')).toBe(false);
      expect(await tableExists('audit_events')).toBe(false);
      expect(await db.dataSource.showMigrations()).toBe(true);

      const applied = await db.dataSource.runMigrations();
      expect(applied).toHaveLength(SECURITY_MIGRATIONS.length);
      expect(await tableExists('principals')).toBe(true);
      expect(await db.dataSource.getRepository(PrincipalEntity).count()).toBe(0);
    });

    // Not registered at all where schemas cannot work, so it never shows as a skipped test.
    const itWithSchemas = schemas ? it : ((() => undefined) as unknown as typeof it);
    itWithSchemas('puts the tables in the configured schema', async (context) => {
      // Only where no PostgreSQL answers (never in CI, where REQUIRE_SERVICES=1 makes that an error).
      if (db.embedded) context.skip('no PostgreSQL server: the embedded one ignores search_path');
      await db.dataSource.query(`CREATE SCHEMA tenant_a`);
      const scoped = new DataSource(
        securityDataSourceOptions({
          url: db.url,
          schema: 'tenant_a',
          poolSize: 1,
        }),
      );
      await scoped.initialize();
      try {
        await scoped.runMigrations();
        await scoped.getRepository(PrincipalEntity).insert({ kind: 'user', username: 'in-tenant-a' });

        const tables: Array<{ table_schema: string; table_name: string }> = await db.dataSource.query(`
          SELECT table_schema, table_name FROM information_schema.tables
          WHERE table_schema = 'tenant_a' ORDER BY table_name`);
        expect(tables.map((t) => t.table_name)).toEqual([
          'api_keys',
          'audit_events',
          'deprecated_calls',
          'mfa_factors',
          'mfa_recovery_codes',
          'principal_roles',
          'principals',
          'resource_grants',
          'role_permissions',
          'roles',
          'security_changes',
          'security_migrations',
          'sessions',
          'signing_keys',
        ]);
        const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM tenant_a.principals`);
        expect(n).toBe(1);
      } finally {
        await scoped.destroy();
      }
    });
  });
}

describe('pglite-socket behaviour the embedded mode relies on', () => {
  let server: EmbeddedPostgres;
  beforeAll(async () => {
    server = await startInMemoryPostgres();
  }, 60_000);
  afterAll(() => server?.close());

  it('ignores startup parameters such as search_path (so schema isolation needs a database each)', async () => {
    const client = new pg.Client({
      connectionString: server.url,
      options: '-c search_path=elsewhere',
    });
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT current_setting('search_path') AS path`);
      expect(rows[0].path).not.toContain('elsewhere');
    } finally {
      await client.end();
    }
  });
});

describe('startEmbeddedPostgres', () => {
  let root: string;
  const started: EmbeddedPostgres[] = [];
  const logger = () => ({
    log: vi.fn<(message: string) => void>(),
    warn: vi.fn<(message: string) => void>(),
  });
  const start = async (dataDir: string, log = logger()) => {
    const server = await startEmbeddedPostgres({ dataDir, logger: log });
    started.push(server);
    return server;
  };
  const query = async (url: string, sql: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  };
  const exists = (path: string) =>
    access(path).then(
      () => true,
      () => false,
    );

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'nas-embedded-'));
  });

  afterEach(async () => {
    // Borrowers first: closing them is a no-op, the owner's close is the one that matters.
    for (const server of started.splice(0).reverse()) await server.close();
    await rm(root, { recursive: true, force: true });
  });

  it('creates a 0700 directory and keeps the data across close and reopen', async () => {
    const dataDir = join(root, 'nested', 'data');

    const first = await start(dataDir);
    await query(first.url, `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives')`);
    await first.close();
    expect(await exists(join(dataDir, 'pg.lock'))).toBe(false);
    const second = await start(dataDir);

    expect(first.owner).toBe(true);
    expect(second.owner).toBe(true);
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    expect(await exists(join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
    expect(await query(second.url, `SELECT v FROM kept`)).toEqual([{ v: 'survives' }]);
  }, 60_000);

  it('restricts an existing directory with wider permissions to 0700', async () => {
    const dataDir = join(root, 'open');
    await mkdir(dataDir);
    await chmod(dataDir, 0o755);
    const log = logger();

    await start(dataDir, log);

    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    expect(log.warn).toHaveBeenCalledWith(expect.stringContaining('755 -> 700'));
  }, 60_000);

  it('lets a second starter use the running owner instead of opening the data directory', async () => {
    const dataDir = join(root, 'shared');
    const owner = await start(dataDir);
    await query(owner.url, `CREATE TABLE seen (v int); INSERT INTO seen VALUES (42)`);

    const borrower = await start(dataDir);
    const lock = JSON.parse(await readFile(join(dataDir, 'pg.lock'), 'utf8'));

    expect(borrower).toMatchObject({ owner: false, url: owner.url });
    expect(owner.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    expect(lock).toMatchObject({
      pid: process.pid,
      url: owner.url,
      port: Number(new URL(owner.url).port),
    });
    expect(await query(borrower.url, `SELECT v FROM seen`)).toEqual([{ v: 42 }]);
    await borrower.close();
    expect(await query(owner.url, `SELECT count(*)::int AS n FROM seen`)).toEqual([{ n: 1 }]);
    await owner.close();
    expect(await exists(join(dataDir, 'pg.lock'))).toBe(false);
  }, 60_000);

  it('makes a starter that must not borrow wait for the owner to close, then own the directory', async () => {
    const dataDir = join(root, 'wait');
    const owner = await start(dataDir);
    await query(owner.url, `CREATE TABLE handed (v int); INSERT INTO handed VALUES (7)`);
    const log = logger();
    let settled = false;
    const waiting = startEmbeddedPostgres({ dataDir, logger: log, borrow: false }).then((server) => {
      settled = true;
      started.push(server);
      return server;
    });
    await expect.poll(() => log.warn.mock.calls.length).toBe(1);
    expect(log.warn.mock.calls[0]![0]).toMatch(/waiting for it to finish/);
    expect(settled).toBe(false);

    await owner.close();
    const next = await waiting;
    expect(next.owner).toBe(true);
    expect(await query(next.url, `SELECT v FROM handed`)).toEqual([{ v: 7 }]);
  }, 60_000);

  it('lets exactly one of two simultaneous starters own the directory', async () => {
    const dataDir = join(root, 'race');

    const both = await Promise.all([start(dataDir), start(dataDir)]);

    expect(both.filter((s) => s.owner)).toHaveLength(1);
    expect(both[0].url).toBe(both[1].url);
  }, 60_000);

  it('takes over a lock left by a process that is gone', async () => {
    const dataDir = join(root, 'stale');
    await mkdir(dataDir, { mode: 0o700 });
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const staleUrl = 'postgres://postgres@127.0.0.1:1/postgres';
    await writeFile(
      join(dataDir, 'pg.lock'),
      JSON.stringify({
        pid: dead,
        port: 1,
        url: staleUrl,
        startedAt: '2020-01-01T00:00:00.000Z',
      }),
    );
    const log = logger();

    const server = await start(dataDir, log);
    const lock = JSON.parse(await readFile(join(dataDir, 'pg.lock'), 'utf8'));

    expect(server.owner).toBe(true);
    expect(server.url).not.toBe(staleUrl);
    expect(lock).toMatchObject({ pid: process.pid, url: server.url });
    expect(log.warn).toHaveBeenCalledWith(expect.stringContaining(`process ${dead} is gone`));
    expect(await query(server.url, `SELECT 1 AS one`)).toEqual([{ one: 1 }]);
  }, 60_000);
});
