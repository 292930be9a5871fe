import { AuditEventStore, type StoredAuditEvent } from '../audit-event.store.js';
import { auditRowHash, GENESIS_HASH } from '../core/audit-chain.js';
import type { SecurityEventRecord } from '../security-event-types.js';

/** In-process audit trail for tests and apps without a database; keeps the newest `capacity` rows. */
export class MemoryAuditEventStore extends AuditEventStore {
  readonly kind = 'memory';
  private rows: StoredAuditEvent[] = [];
  private lastSeq = 0n;
  private lastHash = GENESIS_HASH;

  constructor(private readonly capacity = 10_000) {
    super();
  }

  async append(record: SecurityEventRecord): Promise<StoredAuditEvent> {
    const seq = (this.lastSeq + 1n).toString();
    const hash = auditRowHash(this.lastHash, seq, record);
    const row: StoredAuditEvent = { ...record, seq, prevHash: this.lastHash, hash };
    this.lastSeq += 1n;
    this.lastHash = hash;
    this.rows.push(row);
    // Trimmed in batches of a tenth, so that a full store does not move every row on every append.
    if (this.rows.length > this.capacity + Math.ceil(this.capacity / 10))
      this.rows.splice(0, this.rows.length - this.capacity);
    return row;
  }

  async recent(limit: number): Promise<StoredAuditEvent[]> {
    return this.rows.slice(-Math.min(limit, this.capacity)).reverse();
  }
}
