import {
  AuditEventStore,
  type AuditChainHead,
  type AuditEventFilter,
  type StoredAuditEvent,
} from '../audit-event.store.js';
import { auditRowHash, GENESIS_HASH } from '../core/audit-chain.js';
import type { SecurityEventRecord } from '../security-event-types.js';

/** In-process audit trail for tests and apps without a database; keeps the newest `capacity` rows. */
export class MemoryAuditEventStore extends AuditEventStore {
  readonly kind = 'memory';
  private rows: StoredAuditEvent[] = [];
  private readonly ids = new Set<string>();
  private lastSeq = 0n;
  private lastHash = GENESIS_HASH;

  constructor(private readonly capacity = 10_000) {
    super();
  }

  async appendBatch(records: readonly SecurityEventRecord[]): Promise<StoredAuditEvent[]> {
    const stored: StoredAuditEvent[] = [];
    for (const record of records) {
      if (this.ids.has(record.id)) continue;
      const seq = (this.lastSeq + 1n).toString();
      const hash = auditRowHash(this.lastHash, seq, record);
      const row: StoredAuditEvent = { ...record, seq, prevHash: this.lastHash, hash };
      this.lastSeq += 1n;
      this.lastHash = hash;
      this.rows.push(row);
      this.ids.add(record.id);
      stored.push(row);
    }
    // Trimmed in batches of a tenth, so that a full store does not move every row on every append.
    if (this.rows.length > this.capacity + Math.ceil(this.capacity / 10)) {
      for (const row of this.rows.splice(0, this.rows.length - this.capacity)) this.ids.delete(row.id);
    }
    return stored;
  }

  async head(): Promise<AuditChainHead | null> {
    return this.lastSeq === 0n ? null : { seq: this.lastSeq.toString(), hash: this.lastHash };
  }

  async range(afterSeq: string, limit: number): Promise<StoredAuditEvent[]> {
    const after = BigInt(afterSeq);
    const result: StoredAuditEvent[] = [];
    for (const row of this.rows) {
      if (result.length >= limit) break;
      if (BigInt(row.seq) > after) result.push(row);
    }
    return result;
  }

  async query(filter: AuditEventFilter): Promise<StoredAuditEvent[]> {
    const before = filter.afterSeq === undefined ? undefined : BigInt(filter.afterSeq);
    const result: StoredAuditEvent[] = [];
    for (let i = this.rows.length - 1; i >= 0 && result.length < filter.limit; i--) {
      const row = this.rows[i]!;
      if (before !== undefined && BigInt(row.seq) >= before) continue;
      if (filter.type !== undefined && row.type !== filter.type) continue;
      if (filter.principalId !== undefined && row.principalId !== filter.principalId) continue;
      if (filter.outcome !== undefined && row.outcome !== filter.outcome) continue;
      if (filter.since && row.at.getTime() < filter.since.getTime()) continue;
      if (filter.until && row.at.getTime() >= filter.until.getTime()) continue;
      result.push(row);
    }
    return result;
  }

  async recent(limit: number): Promise<StoredAuditEvent[]> {
    return limit > 0 ? this.rows.slice(-Math.min(limit, this.capacity)).reverse() : [];
  }
}
