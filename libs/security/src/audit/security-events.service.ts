import {
  Inject,
  Injectable,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Clock } from '../core/clock.js';
import { SECURITY_LOGGER, SECURITY_OPTIONS } from '../security.constants.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { AuditEventStore } from './audit-event.store.js';
import { AuditWriter, type AuditWriterStats } from './audit-writer.js';
import { redactSecrets } from './core/redact.js';
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
    // Through JSON once, so that the hashed record is exactly what jsonb and the spill file give back
    // (no undefined, NaN or Infinity that would read back differently and break the chain).
    const details = JSON.parse(
      JSON.stringify(redactSecrets({ ...input.details, ...(input.actor ? { actor: input.actor } : {}) })),
    ) as Record<string, unknown>;
    const record: SecurityEventRecord = {
      id: randomUUID(),
      at: new Date(this.clock.now()),
      type: input.type,
      outcome: input.outcome,
      principalId: input.principalId ?? null,
      keyId: input.keyId ?? null,
      ip: input.request?.ip ?? null,
      userAgent: input.request?.userAgent ?? null,
      method: input.request?.method ?? null,
      path: input.request?.path ?? null,
      status: input.status ?? null,
      requestId: input.request?.requestId ?? null,
      details,
    };
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
