import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../../../test/support/services.js';
import { startTcpProxy, type TcpProxy } from '../../../../test/support/tcp-proxy.js';
import { TypeOrmAuditEventStore } from '../../src/audit/adapters/typeorm-audit-event.store.js';
import type { StoredAuditEvent } from '../../src/audit/audit-event.store.js';
import { AuditWriter } from '../../src/audit/audit-writer.js';
import { verifyAuditChain } from '../../src/audit/core/verify-chain.js';
import type { SecurityEventRecord } from '../../src/audit/security-event-types.js';
import { createSecurityLogger } from '../../src/audit/security-logger.js';
import { SystemClock } from '../../src/core/clock.js';
import { resolveSecurityOptions } from '../../src/options/resolve-security-options.js';
import type { AuditOptions } from '../../src/options/security-options.js';
import { securityDataSourceOptions } from '../../src/persistence/data-source-options.js';
import { EMBEDDED_POOL_SIZE, startInMemoryPostgres } from '../../src/persistence/embedded-postgres.js';

const PHASE_TIMEOUT_MS = 60_000;
const POLL = { timeout: 20_000, interval: 50 };

function hostAndPort(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 5432) };
}

function event(writer: string, index: number): SecurityEventRecord {
  return {
    id: randomUUID(),
    at: new Date(),
    type: 'AUTH_FAILED',
    outcome: 'denied',
    principalId: null,
    keyId: null,
    ip: '203.0.113.20',
    userAgent: 'int-spec',
    method: 'GET',
    path: '/me',
    status: 401,
    requestId: `${writer}-${index}`,
    details: { writer, index, reason: 'missing' },
  };
}

/** Every row, ascending, read in pages as `audit verify` does. */
async function* allRows(store: TypeOrmAuditEventStore): AsyncIterable<StoredAuditEvent> {
  let after = '0';
  for (;;) {
    const page = await store.range(after, 250);
    if (page.length === 0) return;
    yield* page;
    after = page[page.length - 1]!.seq;
  }
}

async function collect(store: TypeOrmAuditEventStore): Promise<StoredAuditEvent[]> {
  const rows: StoredAuditEvent[] = [];
  for await (const row of allRows(store)) rows.push(row);
  return rows;
}

const silentLogger = () =>
  createSecurityLogger(
    new Writable({
      write(_chunk, _encoding, done) {
        done();
      },
    }),
  );

describe('AuditWriter on PostgreSQL (embedded only when none answers)', () => {
  let db: TestDatabase;
  let direct: DataSource;
  let spillDir: string;

  beforeAll(async () => {
    db = await testDatabase();
    direct = await new DataSource(
      securityDataSourceOptions({ url: db.url, poolSize: db.embedded ? EMBEDDED_POOL_SIZE : 4 }),
    ).initialize();
    await direct.runMigrations();
    spillDir = await mkdtemp(join(tmpdir(), 'nas-audit-int-'));
  }, PHASE_TIMEOUT_MS);

  afterAll(async () => {
    await direct?.destroy();
    await db?.drop();
    if (spillDir) await rm(spillDir, { recursive: true, force: true });
  });

  const writerOn = (dataSource: DataSource, audit: AuditOptions = {}) =>
    new AuditWriter(
      resolveSecurityOptions({ audit }),
      silentLogger(),
      new TypeOrmAuditEventStore(dataSource),
      new SystemClock(),
    );

  /** Empties the trail between scenarios; only a superuser with the triggers disabled can. */
  async function emptyTrail(): Promise<void> {
    await direct.transaction(async (manager) => {
      await manager.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
      await manager.query('TRUNCATE audit_events');
      await manager.query('ALTER TABLE audit_events ENABLE TRIGGER USER');
    });
  }

  describe('through a TCP proxy that is cut and restored', () => {
    let proxy: TcpProxy;
    let proxied: DataSource;

    beforeAll(async () => {
      await emptyTrail();
      proxy = await startTcpProxy(hostAndPort(db.url));
      proxied = await new DataSource(
        securityDataSourceOptions({ url: proxy.url(db.url), poolSize: db.embedded ? EMBEDDED_POOL_SIZE : 4 }),
      ).initialize();
    }, PHASE_TIMEOUT_MS);

    afterAll(async () => {
      proxy?.restore();
      await proxied?.destroy();
      await proxy?.close();
    });

    it(
      'stores all of 1,000 events recorded before, during and after the outage, gap-free and chained',
      async () => {
        // A small queue, so that the outage also goes through the spill file.
        const writer = writerOn(proxied, { spillDir, queueCapacity: 150 });
        const recorded = Array.from({ length: 1_000 }, (_, index) => event('proxy', index));
        try {
          for (const record of recorded.slice(0, 300)) writer.enqueue(record);
          await expect.poll(() => writer.stats().written, POLL).toBeGreaterThan(0);

          proxy.cut();
          for (const record of recorded.slice(300, 700)) {
            writer.enqueue(record);
            if (record.details.index === 450) await expect.poll(() => writer.stats().spilled, POLL).toBeGreaterThan(0);
          }
          proxy.restore();
          for (const record of recorded.slice(700)) writer.enqueue(record);

          expect(await writer.flush(40_000)).toBe(true);
        } finally {
          await writer.close();
        }

        const rows = await collect(new TypeOrmAuditEventStore(direct));
        expect(rows).toHaveLength(1_000);
        expect(rows.map((row) => row.seq)).toEqual(recorded.map((_, index) => String(index + 1)));
        expect(rows.map((row) => row.id)).toEqual(recorded.map((record) => record.id));
        expect(await verifyAuditChain(allRows(new TypeOrmAuditEventStore(direct)))).toEqual({
          ok: true,
          checked: 1_000,
          firstBad: null,
        });
        expect(writer.stats()).toMatchObject({ dropped: 0, queued: 0, spilled: 0, written: 1_000 });
      },
      PHASE_TIMEOUT_MS,
    );
  });

  it(
    'keeps one valid chain when two instances append concurrently',
    async () => {
      await emptyTrail();
      const second = await new DataSource(
        securityDataSourceOptions({ url: db.url, poolSize: db.embedded ? EMBEDDED_POOL_SIZE : 4 }),
      ).initialize();
      const writers = [writerOn(direct), writerOn(second)];
      try {
        const perWriter = 400;
        for (let index = 0; index < perWriter; index++) {
          writers[0]!.enqueue(event('a', index));
          writers[1]!.enqueue(event('b', index));
          if (index % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
        expect(await Promise.all(writers.map((writer) => writer.flush(30_000)))).toEqual([true, true]);
      } finally {
        for (const writer of writers) await writer.close();
        await second.destroy();
      }

      const rows = await collect(new TypeOrmAuditEventStore(direct));
      expect(rows.map((row) => row.seq)).toEqual(Array.from({ length: 800 }, (_, index) => String(index + 1)));
      expect(await verifyAuditChain(rows)).toMatchObject({ ok: true, checked: 800 });
      // Each writer's events are in its own order, interleaved with the other's.
      for (const name of ['a', 'b']) {
        const own = rows.filter((row) => row.details.writer === name).map((row) => row.details.index);
        expect(own).toEqual(Array.from({ length: 400 }, (_, index) => index));
      }
    },
    PHASE_TIMEOUT_MS,
  );
});

describeTriggers('PostgreSQL (embedded only when none answers)', async () => {
  const db = await testDatabase();
  return { url: db.url, embedded: db.embedded, close: () => db.drop() };
});
describeTriggers('embedded PGlite (in memory)', async () => {
  const server = await startInMemoryPostgres();
  return { url: server.url, embedded: true, close: () => server.close() };
});

function describeTriggers(
  label: string,
  open: () => Promise<{ url: string; embedded: boolean; close(): Promise<void> }>,
): void {
  describe(`append-only audit_events on ${label}`, () => {
    let db: { url: string; embedded: boolean; close(): Promise<void> };
    let dataSource: DataSource;
    let store: TypeOrmAuditEventStore;

    beforeAll(async () => {
      db = await open();
      dataSource = await new DataSource(
        securityDataSourceOptions({ url: db.url, poolSize: db.embedded ? EMBEDDED_POOL_SIZE : 2 }),
      ).initialize();
      await dataSource.runMigrations();
      store = new TypeOrmAuditEventStore(dataSource);
      await store.appendBatch(Array.from({ length: 3 }, (_, index) => event('t', index)));
    }, PHASE_TIMEOUT_MS);

    afterAll(async () => {
      await dataSource?.destroy();
      await db?.close();
    });

    it.each([
      ['UPDATE', `UPDATE audit_events SET status = 200 WHERE seq = 2`],
      ['DELETE', `DELETE FROM audit_events WHERE seq = 3`],
      ['TRUNCATE', `TRUNCATE audit_events`],
    ])('refuses %s', async (operation, sql) => {
      await expect(dataSource.query(sql)).rejects.toMatchObject({
        driverError: { code: '42501', message: `audit_events is append-only: ${operation} refused` },
      });
      expect((await store.range('0', 10)).map((row) => [row.seq, row.status])).toEqual([
        ['1', 401],
        ['2', 401],
        ['3', 401],
      ]);
    });

    it('lets a superuser change rows only after disabling the triggers, and verify notices', async () => {
      const runner = dataSource.createQueryRunner();
      await runner.connect();
      await runner.startTransaction();
      try {
        await runner.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
        await runner.query(`UPDATE audit_events SET status = 200 WHERE seq = 2`);
        const rows = await runner.query(`SELECT seq::text AS seq, status FROM audit_events ORDER BY audit_events.seq`);
        expect(rows).toEqual([
          { seq: '1', status: 401 },
          { seq: '2', status: 200 },
          { seq: '3', status: 401 },
        ]);
      } finally {
        await runner.rollbackTransaction();
        await runner.release();
      }
      expect(await verifyAuditChain(await store.range('0', 10))).toMatchObject({ ok: true, checked: 3 });
    });

    it('still appends, and the migration comes off cleanly', async () => {
      await store.appendBatch([event('t', 3)]);
      expect(await store.head()).toMatchObject({ seq: '4' });

      // Undo down to (and including) the append-only migration; later migrations come off first.
      while (true) {
        const table = dataSource.options.migrationsTableName ?? 'migrations';
        const applied = (await dataSource.query(`SELECT name FROM "${table}" ORDER BY id DESC LIMIT 1`)) as {
          name: string;
        }[];
        await dataSource.undoLastMigration();
        if (applied[0]?.name === 'AuditAppendOnly1764700000000') break;
      }
      await dataSource.query(`DELETE FROM audit_events WHERE seq = 4`);
      await dataSource.runMigrations();

      await expect(dataSource.query(`DELETE FROM audit_events WHERE seq = 3`)).rejects.toMatchObject({
        driverError: { code: '42501' },
      });
    });
  });
}
