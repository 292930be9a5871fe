import {
  Inject,
  Injectable,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Logger } from 'pino';
import { Clock } from '../core/clock.js';
import { SECURITY_LOGGER, SECURITY_OPTIONS } from '../security.constants.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { AuditEventStore } from './audit-event.store.js';
import { AuditWriter, type AuditWriterStats } from './audit-writer.js';
import { buildSecurityEventRecord } from './core/build-record.js';
import type { SecurityEventInput, SecurityEventRecord } from './security-event-types.js';

/**
 * Records security events: one JSON log line and one audit row each. Every feature calls this; none
 * writes events another way. Rows are written by the `AuditWriter` off the request path, so recording
 * never waits for the database and never throws into the request.
 */
@Injectable()
export class SecurityEvents implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly listeners = new Set<(record: SecurityEventRecord) => void>();
  private readonly writer: AuditWriter;

  /**
   * Calls `listener` with every recorded event, synchronously, after it is logged (detectors, metrics,
   * alert sinks). A listener that throws is logged and does not affect the others. Returns unsubscribe.
   */
  subscribe(listener: (record: SecurityEventRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  constructor(
    @Inject(SECURITY_OPTIONS) private readonly options: ResolvedSecurityOptions,
    @Inject(SECURITY_LOGGER) private readonly logger: Logger,
    store: AuditEventStore,
    private readonly clock: Clock,
    // The module's own writer when it provides one; otherwise this service owns a writer.
    @Optional() writer?: AuditWriter,
  ) {
    this.writer = writer ?? new AuditWriter(options, logger, store, clock);
  }

  /** Builds, logs and queues one event for the audit trail. Resolves without waiting for the row. */
  async record(input: SecurityEventInput): Promise<SecurityEventRecord> {
    const record = buildSecurityEventRecord(input, this.clock.now());
    const audit = this.options.audit;
    if (audit && audit.log) {
      const level = input.outcome === 'success' ? 'info' : 'warn';
      this.logger[level]({ event: record }, `security event ${record.type}`);
    }
    for (const listener of Array.from(this.listeners)) {
      try {
        listener(record);
      } catch (error) {
        this.logger.error({ err: error, type: record.type }, 'security event listener failed');
      }
    }
    if (audit && audit.database) this.writer.enqueue(record);
    return record;
  }

  /**
   * Resolves true once every event recorded before the call is in the audit trail; false after
   * `timeoutMs` (what is left is then spilled to disk when `audit.spillDir` is set).
   */
  flush(timeoutMs?: number): Promise<boolean> {
    return this.writer.flush(timeoutMs);
  }

  /** Queue, spill and drop counts of the audit writer, for metrics. */
  auditStats(): AuditWriterStats {
    return this.writer.stats();
  }

  onApplicationBootstrap(): void {
    this.writer.start();
  }

  /** Writes what is queued (bounded) before the database closes; see `AuditWriter.close`. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.writer.close();
  }
}
