import type { SecurityEventRecord } from './security-event-types.js';

/** A stored audit row: the record plus its place and hashes in the chain. */
export interface StoredAuditEvent extends SecurityEventRecord {
  readonly seq: string;
  readonly prevHash: string;
  readonly hash: string;
}

/** The port of the audit trail. `append` is atomic: it assigns the next `seq` and chains the hash. */
export abstract class AuditEventStore {
  /** Which adapter this is, for the boot log. */
  abstract readonly kind: string;
  abstract append(record: SecurityEventRecord): Promise<StoredAuditEvent>;
  /** The newest rows first, at most `limit`. */
  abstract recent(limit: number): Promise<StoredAuditEvent[]>;
}
