import type { SecurityEvents } from '../audit/security-events.service.js';
import type { SecurityEventInput, SecurityEventRecord } from '../audit/security-event-types.js';
import type { Clock } from '../core/clock.js';
import { buildSecurityEventRecord } from '../audit/core/build-record.js';

/**
 * Stands in for `SecurityEvents` in unit tests: `record()` builds the record and calls the listeners
 * synchronously, as the real service promises, and keeps every record.
 */
export class FakeSecurityEvents {
  readonly records: SecurityEventRecord[] = [];
  private readonly listeners = new Set<(record: SecurityEventRecord) => void>();

  constructor(private readonly clock: Clock) {}

  subscribe(listener: (record: SecurityEventRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  async record(input: SecurityEventInput): Promise<SecurityEventRecord> {
    const record = buildSecurityEventRecord(input, this.clock.now());
    this.records.push(record);
    for (const listener of Array.from(this.listeners)) listener(record);
    return record;
  }

  /** The records of one type. */
  ofType(type: SecurityEventInput['type']): SecurityEventRecord[] {
    return this.records.filter((record) => record.type === type);
  }

  /** Typed as the service the code under test injects. */
  asService(): SecurityEvents {
    return this as unknown as SecurityEvents;
  }
}
