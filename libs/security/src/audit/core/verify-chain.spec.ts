import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryAuditEventStore } from '../adapters/memory-audit-event.store.js';
import type { StoredAuditEvent } from '../audit-event.store.js';
import type { SecurityEventRecord } from '../security-event-types.js';
import { auditRowHash } from './audit-chain.js';
import { verifyAuditChain } from './verify-chain.js';

function record(index: number): SecurityEventRecord {
  return {
    id: randomUUID(),
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, index)),
    type: 'AUTH_FAILED',
    outcome: 'denied',
    principalId: null,
    keyId: null,
    ip: '203.0.113.9',
    userAgent: null,
    method: 'GET',
    path: '/me',
    status: 401,
    requestId: `req-${index}`,
    details: { index, nested: { reason: 'missing' } },
  };
}

async function chain(length: number): Promise<StoredAuditEvent[]> {
  const store = new MemoryAuditEventStore();
  return store.appendBatch(Array.from({ length }, (_, index) => record(index)));
}

async function* streamed(rows: readonly StoredAuditEvent[]): AsyncIterable<StoredAuditEvent> {
  for (const row of rows) yield row;
}

describe('verifyAuditChain', () => {
  it('accepts an intact chain, streamed or in an array, and counts its rows', async () => {
    const rows = await chain(20);

    expect(await verifyAuditChain(rows)).toEqual({ ok: true, checked: 20, firstBad: null });
    expect(await verifyAuditChain(streamed(rows))).toEqual({ ok: true, checked: 20, firstBad: null });
    expect(await verifyAuditChain([])).toEqual({ ok: true, checked: 0, firstBad: null });
  });

  it('names an edited row as altered', async () => {
    const rows = await chain(20);
    rows[6] = { ...rows[6]!, details: { ...rows[6]!.details, index: 999 } };

    expect(await verifyAuditChain(rows)).toEqual({ ok: false, checked: 6, firstBad: { seq: '7', reason: 'altered' } });
  });

  it('names the row after an edited row whose hash was rewritten to match, as inserted', async () => {
    const rows = await chain(20);
    const forged = { ...rows[9]!, status: 200 };
    const { seq, prevHash, hash: _hash, ...forgedRecord } = forged;
    rows[9] = { ...forged, hash: auditRowHash(prevHash, seq, forgedRecord) };

    expect(await verifyAuditChain(rows)).toEqual({
      ok: false,
      checked: 10,
      firstBad: { seq: '11', reason: 'inserted' },
    });
  });

  it('names the first seq of a deleted row as missing, also at the very start', async () => {
    const rows = await chain(20);

    expect(await verifyAuditChain(rows.filter((row) => row.seq !== '12' && row.seq !== '13'))).toEqual({
      ok: false,
      checked: 11,
      firstBad: { seq: '12', reason: 'missing' },
    });
    expect(await verifyAuditChain(rows.slice(1))).toMatchObject({
      checked: 0,
      firstBad: { seq: '1', reason: 'missing' },
    });
  });

  it('names a repeated, reordered or foreign row as inserted', async () => {
    const rows = await chain(10);
    const other = await chain(10);

    expect((await verifyAuditChain([...rows.slice(0, 5), rows[4]!, ...rows.slice(5)])).firstBad).toEqual({
      seq: '5',
      reason: 'inserted',
    });
    expect((await verifyAuditChain([...rows.slice(0, 3), other[3]!, ...rows.slice(4)])).firstBad).toEqual({
      seq: '4',
      reason: 'inserted',
    });
  });

  it('with a logged head, names removed newest rows as truncated', async () => {
    const rows = await chain(20);
    const head = { seq: rows[19]!.seq, hash: rows[19]!.hash };

    expect(await verifyAuditChain(rows, { head })).toEqual({ ok: true, checked: 20, firstBad: null });
    expect(await verifyAuditChain(rows.slice(0, 17), { head })).toEqual({
      ok: false,
      checked: 17,
      firstBad: { seq: '20', reason: 'truncated' },
    });
    expect(await verifyAuditChain([], { head })).toMatchObject({ firstBad: { seq: '20', reason: 'truncated' } });
  });

  it('with a logged head, names a chain regrown after truncation as truncated at the head', async () => {
    const rows = await chain(20);
    const head = { seq: rows[14]!.seq, hash: rows[14]!.hash };
    // Rows 13.. removed, then new events appended in their place: a valid chain, but not the logged one.
    const regrown = new MemoryAuditEventStore();
    const kept = rows.slice(0, 12);
    await regrown.appendBatch(kept.map(({ seq: _s, prevHash: _p, hash: _h, ...r }) => r));
    const tail = await regrown.appendBatch(Array.from({ length: 8 }, (_, index) => record(100 + index)));

    const result = await verifyAuditChain([...kept, ...tail], { head });

    expect(result).toEqual({ ok: false, checked: 14, firstBad: { seq: '15', reason: 'truncated' } });
  });

  it('accepts a chain that has grown past the logged head', async () => {
    const rows = await chain(20);

    expect(await verifyAuditChain(rows, { head: { seq: rows[9]!.seq, hash: rows[9]!.hash } })).toMatchObject({
      ok: true,
      checked: 20,
    });
  });
});
