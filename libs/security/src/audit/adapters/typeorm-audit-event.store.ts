import type { DataSource } from 'typeorm';
import { AuditEventStore, type StoredAuditEvent } from '../audit-event.store.js';
import { auditRowHash, GENESIS_HASH } from '../core/audit-chain.js';
import type { SecurityEventRecord } from '../security-event-types.js';

// Any constant works; it only has to be the same in every instance that writes this chain.
const AUDIT_CHAIN_LOCK = 0x6e61_7301;

interface AuditRow {
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
 * Audit trail in Postgres. One transaction per row under an advisory lock, so `seq` is gap-free and
 * the hash chain has one order across every instance sharing the database.
 */
export class TypeOrmAuditEventStore extends AuditEventStore {
  readonly kind = 'postgres';

  constructor(private readonly dataSource: DataSource) {
    super();
  }

  async append(record: SecurityEventRecord): Promise<StoredAuditEvent> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_CHAIN_LOCK]);
      const last: Array<{ seq: string; hash: string }> = await manager.query(
        'SELECT seq::text AS seq, hash FROM audit_events ORDER BY audit_events.seq DESC LIMIT 1',
      );
      const prevHash = last[0]?.hash ?? GENESIS_HASH;
      const seq = (BigInt(last[0]?.seq ?? '0') + 1n).toString();
      const hash = auditRowHash(prevHash, seq, record);
      await manager.query(
        `INSERT INTO audit_events (seq, id, at, type, outcome, principal_id, key_id, ip, user_agent, method, path,
           status, request_id, details, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
        [
          seq,
          record.id,
          record.at,
          record.type,
          record.outcome,
          record.principalId,
          record.keyId,
          record.ip,
          record.userAgent,
          record.method,
          record.path,
          record.status,
          record.requestId,
          JSON.stringify(record.details),
          prevHash,
          hash,
        ],
      );
      return { ...record, seq, prevHash, hash };
    });
  }

  async recent(limit: number): Promise<StoredAuditEvent[]> {
    const rows: AuditRow[] = await this.dataSource.query(
      `SELECT seq::text AS seq, id, at, type, outcome, principal_id, key_id, ip, user_agent, method, path, status,
              request_id, details, prev_hash, hash
         FROM audit_events ORDER BY audit_events.seq DESC LIMIT $1`,
      [limit],
    );
    return rows.map((row) => ({
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
    }));
  }
}
