import { randomUUID } from 'node:crypto';
import { DataSource, type QueryRunner } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../../../test/support/services.js';
import { toStored, TypeOrmAuditEventStore, type AuditRow } from '../../src/audit/adapters/typeorm-audit-event.store.js';
import type { StoredAuditEvent } from '../../src/audit/audit-event.store.js';
import { auditRowHash, GENESIS_HASH } from '../../src/audit/core/audit-chain.js';
import type { SecurityEventRecord } from '../../src/audit/security-event-types.js';
import { securityDataSourceOptions } from '../../src/persistence/data-source-options.js';
import { EMBEDDED_POOL_SIZE } from '../../src/persistence/embedded-postgres.js';

const EVENTS = 50;

/** One `audit_events` row as stored, with the record it was hashed from rebuilt from the columns. */
interface ChainRow {
  readonly seq: string;
  readonly prevHash: string;
  readonly hash: string;
  readonly record: SecurityEventRecord;
}

/**
 * Verifies the chain from the genesis hash: each row must follow the previous seq by one, point at the
 * previous row's recomputed hash and carry the hash recomputed from its own columns. Returns the seqs
 * that do not verify; a tampered row breaks itself and, through the chain, every row after it.
 */
function verifyChain(rows: readonly ChainRow[]): string[] {
  const broken: string[] = [];
  let expectedPrev = GENESIS_HASH;
  let expectedSeq = 1n;
  for (const row of rows) {
    const recomputed = auditRowHash(expectedPrev, row.seq, row.record);
    if (BigInt(row.seq) !== expectedSeq || row.prevHash !== expectedPrev || row.hash !== recomputed) {
      broken.push(row.seq);
    }
    expectedPrev = recomputed;
    expectedSeq = BigInt(row.seq) + 1n;
  }
  return broken;
}

// Ordered by the bigint column: a bare `seq` would name the text alias and sort '10' before '2'.
async function readChain(runner: DataSource | QueryRunner): Promise<ChainRow[]> {
  const rows: AuditRow[] = await runner.query(
    `SELECT seq::text AS seq, id, at, type, outcome, principal_id, key_id, ip, user_agent, method, path, status,
            request_id, details, prev_hash, hash
     FROM audit_events ORDER BY audit_events.seq`,
  );
  return rows.map(toStored).map(({ seq, prevHash, hash, ...record }) => ({ seq, prevHash, hash, record }));
}

/** Varied records: nulls and values, nested and unicode details, millisecond times. */
function makeRecord(index: number, writer: string): SecurityEventRecord {
  const failed = index % 3 !== 0;
  return {
    id: randomUUID(),
    at: new Date(Date.UTC(2026, 0, 1, 12, 0, 0, index * 7)),
    type: failed ? 'AUTH_FAILED' : 'KEY_CREATED',
    outcome: failed ? 'denied' : 'success',
    principalId: failed ? null : randomUUID(),
    keyId: index % 2 === 0 ? `key${index}` : null,
    ip: failed ? `203.0.113.${index}` : null,
    userAgent: failed ? 'curl/8.5.0' : null,
    method: failed ? 'GET' : null,
    path: failed ? `/items/${index}` : null,
    status: failed ? 401 : null,
    requestId: failed ? `req-${writer}-${index}` : null,
    details: {
      writer,
      index,
      reason: failed ? 'unknown' : undefined,
      nested: { zeta: [1, 2.5, 'three', null, true], alpha: { 'ü-ключ': 'naïve "quoted"\nline' } },
    },
  };
}

describe('TypeOrmAuditEventStore on PostgreSQL (embedded only when none answers)', () => {
  let db: TestDatabase;
  let first: DataSource;
  let second: DataSource;
  const appended: StoredAuditEvent[] = [];

  beforeAll(async () => {
    db = await testDatabase();
    const options = () => securityDataSourceOptions({ url: db.url, poolSize: db.embedded ? EMBEDDED_POOL_SIZE : 4 });
    first = await new DataSource(options()).initialize();
    await first.runMigrations();
    second = await new DataSource(options()).initialize();
  }, 60_000);

  afterAll(async () => {
    await first?.destroy();
    await second?.destroy();
    await db?.drop();
  });

  it('numbers 50 concurrent appends from two instances 1..50 without gap or duplicate, in one chain', async () => {
    // Two stores on two pools, as two app instances sharing the database would have.
    const stores = [new TypeOrmAuditEventStore(first), new TypeOrmAuditEventStore(second)];

    const results = await Promise.all(
      Array.from({ length: EVENTS }, (_, index) =>
        stores[index % 2]!.append(makeRecord(index, index % 2 === 0 ? 'a' : 'b')),
      ),
    );
    appended.push(...results);
    const rows = await readChain(first);

    const expectedSeqs = Array.from({ length: EVENTS }, (_, index) => String(index + 1));
    expect(rows.map((row) => row.seq)).toEqual(expectedSeqs);
    expect(results.map((result) => result.seq).sort((a, b) => Number(a) - Number(b))).toEqual(expectedSeqs);
    expect(rows[0]!.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prevHash).toBe(rows[i - 1]!.hash);
    expect(new Set(rows.map((row) => row.hash)).size).toBe(EVENTS);
    // What append returned is what was stored.
    const returnedById = new Map(results.map((result) => [result.id, result]));
    for (const row of rows) {
      expect(returnedById.get(row.record.id)).toMatchObject({ seq: row.seq, prevHash: row.prevHash, hash: row.hash });
    }
  });

  it('reproduces every stored hash from the stored columns', async () => {
    const rows = await readChain(first);

    expect(rows).toHaveLength(EVENTS);
    for (const row of rows) expect(auditRowHash(row.prevHash, row.seq, row.record)).toBe(row.hash);
    expect(verifyChain(rows)).toEqual([]);
  });

  it('reads back, newest first, rows that still verify', async () => {
    const recent = await new TypeOrmAuditEventStore(second).recent(EVENTS);

    expect(recent.map((row) => row.seq)).toEqual(Array.from({ length: EVENTS }, (_, index) => String(EVENTS - index)));
    const oldestFirst = [...recent].reverse();
    const asChain = oldestFirst.map(({ seq, prevHash, hash, ...record }) => ({ seq, prevHash, hash, record }));
    expect(verifyChain(asChain)).toEqual([]);
    const stored = new Map(appended.map((event) => [event.id, event]));
    for (const row of recent) {
      const original = stored.get(row.id)!;
      expect(row).toEqual({ ...original, details: JSON.parse(JSON.stringify(original.details)) });
    }
  });

  it('gives the head, ascending ranges and filtered newest-first pages with a seq cursor', async () => {
    const store = new TypeOrmAuditEventStore(second);
    const last = appended.reduce((a, b) => (BigInt(a.seq) > BigInt(b.seq) ? a : b));

    expect(await store.head()).toEqual({ seq: String(EVENTS), hash: last.hash });
    expect((await store.range('0', 3)).map((row) => row.seq)).toEqual(['1', '2', '3']);
    expect((await store.range('9', 3)).map((row) => row.seq)).toEqual(['10', '11', '12']);
    expect(await store.range(String(EVENTS), 3)).toEqual([]);

    const denied = await store.query({ type: 'AUTH_FAILED', outcome: 'denied', limit: 5 });
    expect(denied).toHaveLength(5);
    expect(denied.every((row) => row.type === 'AUTH_FAILED' && row.outcome === 'denied')).toBe(true);
    const seqs = denied.map((row) => Number(row.seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    const next = await store.query({ type: 'AUTH_FAILED', afterSeq: denied[4]!.seq, limit: 5 });
    expect(Number(next[0]!.seq)).toBeLessThan(seqs[4]!);

    const created = appended.find((row) => row.type === 'KEY_CREATED')!;
    expect((await store.query({ principalId: created.principalId!, limit: 10 })).map((row) => row.id)).toEqual([
      created.id,
    ]);
    const window = await store.query({ since: created.at, until: new Date(created.at.getTime() + 1), limit: 10 });
    expect(window.map((row) => row.id)).toEqual([created.id]);
    expect(await store.query({ type: "x' OR '1'='1", limit: 10 })).toEqual([]);
  });

  it('appends a batch in one chain and skips records it already holds', async () => {
    const store = new TypeOrmAuditEventStore(first);
    const batch = [makeRecord(100, 'batch'), makeRecord(101, 'batch'), makeRecord(102, 'batch')];

    const stored = await store.appendBatch(batch);
    const again = await store.appendBatch([batch[1]!, makeRecord(103, 'batch')]);

    expect(stored.map((row) => row.seq)).toEqual([String(EVENTS + 1), String(EVENTS + 2), String(EVENTS + 3)]);
    expect(again.map((row) => [row.seq, row.requestId])).toEqual([[String(EVENTS + 4), 'req-batch-103']]);
    await expect(store.append(batch[0]!)).rejects.toThrow(/already in the trail/);
    const rows = await readChain(first);
    expect(verifyChain(rows)).toEqual([]);
    // Leave the first EVENTS rows for the tampering tests, which the migration lets only a superuser do.
    await first.transaction(async (manager) => {
      await manager.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
      await manager.query('DELETE FROM audit_events WHERE seq > $1', [EVENTS]);
      await manager.query('ALTER TABLE audit_events ENABLE TRIGGER USER');
    });
  });

  describe('tampering by a superuser with the append-only triggers disabled, in a transaction rolled back', () => {
    async function tampered(sql: string): Promise<string[]> {
      const runner = first.createQueryRunner();
      await runner.connect();
      await runner.startTransaction();
      try {
        await runner.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
        await runner.query(sql);
        return verifyChain(await readChain(runner));
      } finally {
        await runner.rollbackTransaction();
        await runner.release();
      }
    }

    const fromSeq = (seq: number) => Array.from({ length: EVENTS - seq + 1 }, (_, index) => String(seq + index));

    it('breaks the chain from a row whose details were edited on, and only from there', async () => {
      const broken = await tampered(
        `UPDATE audit_events SET details = jsonb_set(details, '{writer}', '"mallory"') WHERE seq = 20`,
      );

      expect(broken).toEqual(fromSeq(20));
      expect(verifyChain(await readChain(first))).toEqual([]);
    });

    it('breaks the chain after a deleted row', async () => {
      const broken = await tampered(`DELETE FROM audit_events WHERE seq = 30`);

      expect(broken).toEqual(fromSeq(31));
    });

    it('notices an edited row even when its stored hash is rewritten to match', async () => {
      const rows = await readChain(first);
      const row = rows[9]!;
      const forged = { ...row.record, details: { ...row.record.details, writer: 'mallory' } };
      const forgedHash = auditRowHash(row.prevHash, row.seq, forged);

      const broken = await tampered(
        `UPDATE audit_events SET details = jsonb_set(details, '{writer}', '"mallory"'), hash = '${forgedHash}'
         WHERE seq = ${row.seq}`,
      );

      expect(broken).toEqual(fromSeq(11));
    });
  });
});
