import type { SecurityEventRecord } from './security-event-types.js';

/** A stored audit row: the record plus its place and hashes in the chain. */
export interface StoredAuditEvent extends SecurityEventRecord {
  readonly seq: string;
  readonly prevHash: string;
  readonly hash: string;
}

/** The newest link of the chain: what `audit verify --head` compares the trail with. */
export interface AuditChainHead {
  readonly seq: string;
  readonly hash: string;
}

/** What `AuditEventStore.query` selects. Every field narrows; results are newest first. */
export interface AuditEventFilter {
  readonly type?: string;
  readonly principalId?: string;
  readonly outcome?: string;
  /** Events at or after this instant. */
  readonly since?: Date;
  /** Events before this instant. */
  readonly until?: Date;
  /** Cursor for the next page: only rows with a seq below this one. */
  readonly afterSeq?: string;
  readonly limit: number;
}

/**
 * The port of the audit trail. Appends are atomic and serialised across every writer of the chain:
 * each one assigns the next gap-free `seq` and chains the hash.
 */
export abstract class AuditEventStore {
  /** Which adapter this is, for the boot log. */
  abstract readonly kind: string;

  /**
   * Appends the records in order, in one transaction. Records whose `id` is already in the trail are
   * skipped, so a batch retried after a lost commit acknowledgement is not stored twice; the result
   * holds only the rows this call stored.
   */
  abstract appendBatch(records: readonly SecurityEventRecord[]): Promise<StoredAuditEvent[]>;

  /** Appends one record: a batch of one. Rejects when a row with the record's id is already stored. */
  async append(record: SecurityEventRecord): Promise<StoredAuditEvent> {
    const [stored] = await this.appendBatch([record]);
    if (!stored) throw new Error(`audit event ${record.id} is already in the trail`);
    return stored;
  }

  /** The newest row's seq and hash, or null for an empty trail. */
  abstract head(): Promise<AuditChainHead | null>;

  /** Rows with a seq above `afterSeq` (use '0' for the start), ascending, at most `limit`. */
  abstract range(afterSeq: string, limit: number): Promise<StoredAuditEvent[]>;

  /** Rows matching `filter`, newest first. */
  abstract query(filter: AuditEventFilter): Promise<StoredAuditEvent[]>;

  /** The newest rows first, at most `limit`. */
  abstract recent(limit: number): Promise<StoredAuditEvent[]>;
}
