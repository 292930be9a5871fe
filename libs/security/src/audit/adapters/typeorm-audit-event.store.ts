import type { DataSource } from 'typeorm';
import {
  AuditEventStore,
  type AuditChainHead,
  type AuditEventFilter,
  type StoredAuditEvent,
} from '../audit-event.store.js';
import { auditRowHash, GENESIS_HASH } from '../core/audit-chain.js';
import type { SecurityEventRecord } from '../security-event-types.js';

// Any constant works; it only has to be the same in every instance that writes this chain.
const AUDIT_CHAIN_LOCK = 0x6e61_7301;
const COLUMNS_PER_ROW = 16;
// Postgres takes at most 65535 parameters per statement.
const ROWS_PER_INSERT = Math.floor(65_535 / COLUMNS_PER_ROW);

const SELECT_COLUMNS = `SELECT seq::text AS seq, id, at, type, outcome, principal_id, key_id, ip, user_agent, method,
         path, status, request_id, details, prev_hash, hash FROM audit_events`;

/** A row of `audit_events` as the `pg` driver returns it (seq cast to text). */
export interface AuditRow {
  seq: string;
  id: string;
  at: Date;
  type: SecurityEventRecord['type'];
  outcome: SecurityEventRecord['outcome'];
  principal_id: string | null;
  key_id: string | null;
  ip: string | null;
  user_agent: string | null;
  method: string | null;
  path: string | null;
  status: number | null;
  request_id: string | null;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

/**
 * Audit trail in Postgres. One transaction per batch under an advisory lock, so `seq` is gap-free and
 * the hash chain has one order across every instance sharing the database. Queries order by the
 * bigint column (`audit_events.seq`): the text alias `seq` would sort '10' before '9'.
 */
export class TypeOrmAuditEventStore extends AuditEventStore {
  readonly kind = 'postgres';

  constructor(private readonly dataSource: DataSource) {
    super();
  }

  async appendBatch(records: readonly SecurityEventRecord[]): Promise<StoredAuditEvent[]> {
    if (records.length === 0) return [];
    return this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_CHAIN_LOCK]);
      // A retried batch whose first commit went through (and whose answer was lost) is not stored twice.
      const existing: Array<{ id: string }> = await manager.query(
        'SELECT id FROM audit_events WHERE id = ANY($1::uuid[])',
        [records.map((record) => record.id)],
      );
      const known = new Set(existing.map((row) => row.id));
      const fresh = records.filter((record) => {
        if (known.has(record.id)) return false;
        known.add(record.id);
        return true;
      });
      if (fresh.length === 0) return [];
      const last: Array<{ seq: string; hash: string }> = await manager.query(
        'SELECT seq::text AS seq, hash FROM audit_events ORDER BY audit_events.seq DESC LIMIT 1',
      );
      let prevHash = last[0]?.hash ?? GENESIS_HASH;
      let seq = BigInt(last[0]?.seq ?? '0');
      const stored: StoredAuditEvent[] = fresh.map((record) => {
        seq += 1n;
        const hash = auditRowHash(prevHash, seq.toString(), record);
        const row = { ...record, seq: seq.toString(), prevHash, hash };
        prevHash = hash;
        return row;
      });
      for (let start = 0; start < stored.length; start += ROWS_PER_INSERT) {
        const chunk = stored.slice(start, start + ROWS_PER_INSERT);
        const values = chunk.map(
          (_, row) =>
            `(${Array.from({ length: COLUMNS_PER_ROW }, (_, column) => `$${row * COLUMNS_PER_ROW + column + 1}`).join(', ')})`,
        );
        await manager.query(
          `INSERT INTO audit_events (seq, id, at, type, outcome, principal_id, key_id, ip, user_agent, method, path,
             status, request_id, details, prev_hash, hash)
           VALUES ${values.join(', ')}`,
          chunk.flatMap((row) => [
            row.seq,
            row.id,
            row.at,
            row.type,
            row.outcome,
            row.principalId,
            row.keyId,
            row.ip,
            row.userAgent,
            row.method,
            row.path,
            row.status,
            row.requestId,
            JSON.stringify(row.details),
            row.prevHash,
            row.hash,
          ]),
        );
      }
      return stored;
    });
  }

  async head(): Promise<AuditChainHead | null> {
    const rows: Array<{ seq: string; hash: string }> = await this.dataSource.query(
      'SELECT seq::text AS seq, hash FROM audit_events ORDER BY audit_events.seq DESC LIMIT 1',
    );
    return rows[0] ? { seq: rows[0].seq, hash: rows[0].hash } : null;
  }

  async range(afterSeq: string, limit: number): Promise<StoredAuditEvent[]> {
    const rows: AuditRow[] = await this.dataSource.query(
      `${SELECT_COLUMNS} WHERE audit_events.seq > $1::bigint ORDER BY audit_events.seq ASC LIMIT $2`,
      [afterSeq, limit],
    );
    return rows.map(toStored);
  }

  async query(filter: AuditEventFilter): Promise<StoredAuditEvent[]> {
    const conditions: string[] = [];
    const params: unknown[] = [];
    const where = (sql: string, value: unknown) => {
      params.push(value);
      conditions.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.type !== undefined) where('type = ?', filter.type);
    if (filter.principalId !== undefined) where('principal_id = ?::uuid', filter.principalId);
    if (filter.outcome !== undefined) where('outcome = ?', filter.outcome);
    if (filter.since !== undefined) where('at >= ?', filter.since);
    if (filter.until !== undefined) where('at < ?', filter.until);
    if (filter.afterSeq !== undefined) where('audit_events.seq < ?::bigint', filter.afterSeq);
    params.push(filter.limit);
    const rows: AuditRow[] = await this.dataSource.query(
      `${SELECT_COLUMNS} ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''}
       ORDER BY audit_events.seq DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toStored);
  }

  async recent(limit: number): Promise<StoredAuditEvent[]> {
    return this.query({ limit });
  }
}

/** Maps a raw `audit_events` row to the stored event. */
export function toStored(row: AuditRow): StoredAuditEvent {
  return {
    seq: row.seq,
    id: row.id,
    at: new Date(row.at),
    type: row.type,
    outcome: row.outcome,
    principalId: row.principal_id,
    keyId: row.key_id,
    ip: row.ip,
    userAgent: row.user_agent,
    method: row.method,
    path: row.path,
    status: row.status,
    requestId: row.request_id,
    details: row.details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
