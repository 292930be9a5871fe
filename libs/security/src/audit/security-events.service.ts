import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Clock } from '../core/clock.js';
import { SECURITY_LOGGER, SECURITY_OPTIONS } from '../security.constants.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { AuditEventStore } from './audit-event.store.js';
import { redactSecrets } from './core/redact.js';
import type { SecurityEventInput, SecurityEventRecord } from './security-event-types.js';

/**
 * Records security events: one JSON log line and one audit row each. Every feature calls this; none
 * writes events another way. Recording never throws into the request: a failed write is logged.
 */
@Injectable()
export class SecurityEvents implements BeforeApplicationShutdown {
  // Writes still running; shutdown waits for them before the database closes.
  private readonly pending = new Set<Promise<unknown>>();
  private readonly listeners = new Set<(record: SecurityEventRecord) => void>();

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
    private readonly store: AuditEventStore,
    private readonly clock: Clock,
  ) {}

  /** Builds, logs and stores one event. Resolves once the audit row is written (or failed). */
  async record(input: SecurityEventInput): Promise<SecurityEventRecord> {
    const details = redactSecrets({ ...input.details, ...(input.actor ? { actor: input.actor } : {}) });
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
      details: details as Record<string, unknown>,
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
    if (audit && audit.database) {
      const write = this.store.append(record).catch((error: unknown) => {
        this.logger.error({ err: error, eventId: record.id, type: record.type }, 'audit row could not be written');
      });
      this.pending.add(write);
      try {
        await write;
      } finally {
        this.pending.delete(write);
      }
    }
    return record;
  }

  /** Lets the audit rows of requests that already finished be written before the database closes. */
  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.pending);
  }
}
