import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { SECURITY_ENTITIES, SECURITY_MIGRATIONS } from '../../src/persistence/index.js';
import { Sessions1765000000000 } from '../../src/persistence/migrations/1765000000000-sessions.js';
import { MemoryPrincipalStore } from '../../src/principals/adapters/memory-principal.store.js';
import { TypeOrmPrincipalStore } from '../../src/principals/adapters/typeorm-principal.store.js';
import { MemorySessionStore } from '../../src/sessions/adapters/memory-session.store.js';
import { TypeOrmSessionStore } from '../../src/sessions/adapters/typeorm-session.store.js';
import { SessionEntity } from '../../src/sessions/session.entity.js';
import { at } from '../stores/contract-support.js';
import { POSTGRES_TARGETS, useMigratedDatabase, type PostgresTarget } from '../support/migrated-database.js';
import { describeSessionStoreContract, newSession, randomTokenHash } from './session-store.contract.js';

// Up to this suite's migration: the last test undoes it.
const MIGRATIONS = SECURITY_MIGRATIONS.slice(0, SECURITY_MIGRATIONS.indexOf(Sessions1765000000000) + 1);

describe('memory adapter', () => {
  describeSessionStoreContract('memory', async () => {
    const principals = new MemoryPrincipalStore();
    return { store: new MemorySessionStore(principals), principals, cleanup: async () => {} };
  });

  it('accepts any principal (a uuid) without a principal store', async () => {
    const store = new MemorySessionStore();

    expect(await store.create(newSession(randomUUID()))).toMatchObject({ endedAt: null });
  });
});

for (const target of POSTGRES_TARGETS) describePostgres(target);

function describePostgres({ label, open }: PostgresTarget): void {
  describe(`TypeORM session store on ${label}`, () => {
    const db = useMigratedDatabase(open, { entities: [...SECURITY_ENTITIES], migrations: MIGRATIONS });
    const { tableExists } = db;

    // Every test starts from empty tables. audit_events is append-only (its triggers refuse TRUNCATE) and
    // references no principal, so it is left alone.
    const truncate = () =>
      db.dataSource.query(
        'TRUNCATE sessions, signing_keys, resource_grants, api_keys, principal_roles, role_permissions, roles, principals',
      );

    describeSessionStoreContract('typeorm', async () => {
      await truncate();
      return {
        store: new TypeOrmSessionStore(db.dataSource),
        principals: new TypeOrmPrincipalStore(db.dataSource),
        cleanup: async () => {},
      };
    });

    describe('round trips', () => {
      beforeEach(truncate);

      it('reads and writes each operation in one statement, a rotation included', async () => {
        const sessions = new TypeOrmSessionStore(db.dataSource);
        const principalId = (await new TypeOrmPrincipalStore(db.dataSource).create({ kind: 'user', username: 'x' })).id;
        const session = newSession(principalId);
        const replacement = { id: randomUUID(), tokenHash: randomTokenHash(), at: at(2), idleExpiresAt: at(602) };

        expect(await db.statementsOf(() => sessions.create(session))).toHaveLength(1);
        expect(await db.statementsOf(() => sessions.findByTokenHash(session.tokenHash))).toHaveLength(1);
        expect(await db.statementsOf(() => sessions.touch(session.id, at(1), at(601)))).toHaveLength(1);
        expect(await db.statementsOf(() => sessions.rotate(session.id, replacement))).toHaveLength(1);
        expect(await db.statementsOf(() => sessions.recordSecondFactor(replacement.id, at(3)))).toHaveLength(1);
        expect(await db.statementsOf(() => sessions.listActive(principalId, at(4), { limit: 5 }))).toHaveLength(1);
        expect(await db.statementsOf(() => sessions.endOldest(principalId, 1, at(5), 'session_limit'))).toHaveLength(1);
        expect(await db.statementsOf(() => sessions.endAllOf(principalId, at(5), 'logout'))).toHaveLength(1);
        expect(await db.statementsOf(() => sessions.end(replacement.id, at(6), 'logout'))).toHaveLength(1);
        expect(await db.statementsOf(() => sessions.purge(at(7)))).toHaveLength(1);
      });

      it('rotates a session once when two rotations race: one replacement, the other gets null', async () => {
        const sessions = new TypeOrmSessionStore(db.dataSource);
        const principalId = (await new TypeOrmPrincipalStore(db.dataSource).create({ kind: 'user', username: 'x' })).id;
        const session = await sessions.create(newSession(principalId));
        const replacement = () => ({
          id: randomUUID(),
          tokenHash: randomTokenHash(),
          at: at(10),
          idleExpiresAt: at(610),
        });

        const results = await Promise.all([
          sessions.rotate(session.id, replacement()),
          sessions.rotate(session.id, replacement()),
        ]);

        expect(results.filter((result) => result !== null)).toHaveLength(1);
        expect(await sessions.listActive(principalId, at(11), { limit: 10 })).toHaveLength(1);
      });
    });

    describe('migration Sessions1765000000000', () => {
      beforeEach(truncate);

      it('runs after the earlier migrations', async () => {
        const applied = await db.appliedMigrations();

        expect(applied).toEqual(MIGRATIONS.map((m) => new m().name));
        expect(applied.at(-1)).toBe('Sessions1765000000000');
      });

      it('creates the columns with their types and nullability, and no defaults', async () => {
        const columns = await db.columnsOf(['sessions']);

        expect(columns('sessions')).toEqual([
          ['id', 'uuid', 'not null', null],
          ['principal_id', 'uuid', 'not null', null],
          ['token_hash', 'character(64)', 'not null', null],
          ['created_at', 'timestamp with time zone', 'not null', null],
          ['last_seen_at', 'timestamp with time zone', 'not null', null],
          ['expires_at', 'timestamp with time zone', 'not null', null],
          ['idle_expires_at', 'timestamp with time zone', 'not null', null],
          ['ended_at', 'timestamp with time zone', 'null', null],
          ['end_reason', 'character varying(32)', 'null', null],
          ['mfa_at', 'timestamp with time zone', 'null', null],
          ['ip', 'character varying(64)', 'null', null],
          ['user_agent', 'character varying(512)', 'null', null],
        ]);
      });

      it('creates the primary key, the unique token hash, the principal index, the cascading foreign key and the check', async () => {
        const indexes = await db.indexesOf(['sessions']);
        const constraints = await db.constraintsOf(['sessions'], ['p', 'u', 'f', 'c']);

        expect(indexes).toEqual({
          sessions_pkey: 'btree (id)',
          sessions_token_hash_key: 'btree (token_hash)',
          sessions_principal_id_created_at_idx: 'btree (principal_id, created_at)',
        });
        expect(constraints).toEqual({
          sessions_pkey: 'PRIMARY KEY (id)',
          sessions_token_hash_key: 'UNIQUE (token_hash)',
          sessions_principal_id_fkey: 'FOREIGN KEY (principal_id) REFERENCES principals(id) ON DELETE CASCADE',
          sessions_end_check: expect.stringMatching(/ended_at IS NULL.*=.*end_reason IS NULL/),
        });
      });

      it('matches the entity: TypeORM finds nothing to change in sessions', async () => {
        const sql = await db.dataSource.driver.createSchemaBuilder().log();
        const statements = sql.upQueries.map((q) => q.query).filter((q) => q.includes('"sessions"'));

        // TypeORM always re-creates the foreign keys to principals (see the signing keys suite): the one it
        // would re-create must be the migration's.
        expect(statements).toEqual([
          'ALTER TABLE "sessions" DROP CONSTRAINT "sessions_principal_id_fkey"',
          'ALTER TABLE "sessions" ADD CONSTRAINT "sessions_principal_id_fkey" FOREIGN KEY ("principal_id") ' +
            'REFERENCES "principals"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
        ]);
      });

      it('stores and reads sessions through the entity', async () => {
        const principalId = (await new TypeOrmPrincipalStore(db.dataSource).create({ kind: 'user', username: 'x' })).id;
        const repository = db.dataSource.getRepository(SessionEntity);
        const session = newSession(principalId);
        await repository.insert({
          ...session,
          lastSeenAt: session.createdAt,
          endedAt: null,
          endReason: null,
          mfaAt: null,
        });

        expect(await repository.findOneByOrFail({ id: session.id })).toMatchObject({
          tokenHash: session.tokenHash,
          expiresAt: session.expiresAt,
          endedAt: null,
        });
        expect(await new TypeOrmSessionStore(db.dataSource).findById(session.id)).toMatchObject({
          principalId,
          tokenHash: session.tokenHash,
        });
      });

      it('refuses, in the database itself, an end without a reason and a reason without an end', async () => {
        const principalId = (await new TypeOrmPrincipalStore(db.dataSource).create({ kind: 'user', username: 'x' })).id;
        const insert = (endedAt: Date | null, reason: string | null) =>
          db.dataSource.query(
            `INSERT INTO sessions (id, principal_id, token_hash, created_at, last_seen_at, expires_at, idle_expires_at,
               ended_at, end_reason) VALUES ($1, $2, $3, now(), now(), now(), now(), $4, $5)`,
            [randomUUID(), principalId, randomTokenHash(), endedAt, reason],
          );
        const violates = { driverError: { code: '23514', constraint: 'sessions_end_check' } };

        await expect(insert(new Date(), null)).rejects.toMatchObject(violates);
        await expect(insert(null, 'logout')).rejects.toMatchObject(violates);
        await insert(new Date(), 'logout');
        await insert(null, null);
      });

      it('deletes the sessions of a deleted principal, and only those', async () => {
        const principals = new TypeOrmPrincipalStore(db.dataSource);
        const sessions = new TypeOrmSessionStore(db.dataSource);
        const alice = await principals.create({ kind: 'user', username: 'alice' });
        const bob = await principals.create({ kind: 'user', username: 'bob' });
        const hers = await sessions.create(newSession(alice.id));
        const his = await sessions.create(newSession(bob.id));

        await db.dataSource.query(`DELETE FROM principals WHERE id = $1`, [alice.id]);

        expect(await sessions.findById(hers.id)).toBeNull();
        expect(await sessions.findById(his.id)).toEqual(his);
      });

      // Last: it drops the table, then puts it back for whatever runs after.
      it('undoes the migration, dropping sessions only, and runs it again', async () => {
        await db.dataSource.undoLastMigration();

        expect(await tableExists('sessions')).toBe(false);
        expect(await tableExists('principals')).toBe(true);
        expect(await tableExists('deprecated_calls')).toBe(true);

        const applied = await db.dataSource.runMigrations();
        expect(applied.map((m) => m.name)).toEqual(['Sessions1765000000000']);
        expect(await tableExists('sessions')).toBe(true);
      });
    });
  });
}
