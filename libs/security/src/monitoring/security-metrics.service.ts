import { Inject, Injectable, Optional, type OnModuleDestroy } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { SecurityEvents } from '../audit/security-events.service.js';
import type { SecurityEventRecord } from '../audit/security-event-types.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { SECURITY_OPTIONS } from '../security.constants.js';

/**
 * Injection token of an optional `() => number`: how many audit rows wait to be written. Without a
 * provider, `nas_audit_queue_depth` reads 0.
 */
export const AUDIT_QUEUE_DEPTH = Symbol.for('nest-api-security.auditQueueDepth');

/** What `AUDIT_QUEUE_DEPTH` provides. */
export type AuditQueueDepth = () => number;

/** A Prometheus text exposition and its content type. */
export interface RenderedMetrics {
  readonly contentType: string;
  readonly body: string;
}

// Label values come from event details; anything unexpected is folded into one value so that a
// caller cannot create series at will.
const LABEL_VALUE = /^[a-z0-9][a-z0-9_-]{0,47}$/;
const labelOf = (value: unknown): string => (typeof value === 'string' && LABEL_VALUE.test(value) ? value : 'other');

/**
 * Prometheus metrics of the security pipeline, in a registry of its own (not prom-client's global one,
 * so two applications in one process do not clash), counted from the security events:
 * `nas_authentication_total{result,reason|method}`, `nas_permission_denials_total`,
 * `nas_rate_limit_decisions_total{decision}`, `nas_signature_failures_total{reason}`,
 * `nas_security_events_total{type}`, `nas_suspicious_patterns_total{detector}`, the gauge
 * `nas_audit_queue_depth`, and the default process metrics prefixed `nas_`.
 */
@Injectable()
export class SecurityMetrics implements OnModuleDestroy {
  /** The registry the metrics live in; register an application's own metrics here to serve them together. */
  readonly registry = new Registry();
  private readonly authentications: Counter<'result' | 'reason' | 'method'>;
  private readonly denials: Counter;
  private readonly rateLimitDecisions: Counter<'decision'>;
  private readonly signatureFailures: Counter<'reason'>;
  private readonly securityEvents: Counter<'type'>;
  private readonly suspiciousPatterns: Counter<'detector'>;
  private readonly unsubscribe: () => void = () => undefined;
  // Per-request counts are kept as plain numbers and handed to prom-client when it collects (a scrape or a
  // get()): a labelled inc() hashes its labels each time, which the request path should not pay.
  private readonly pendingSuccesses = new Map<string, number>();
  private pendingAllowed = 0;

  constructor(
    @Inject(SECURITY_OPTIONS) options: ResolvedSecurityOptions,
    events: SecurityEvents,
    @Optional() @Inject(AUDIT_QUEUE_DEPTH) auditQueueDepth?: AuditQueueDepth,
  ) {
    const registers = options.metrics ? [this.registry] : [];
    this.authentications = new Counter({
      name: 'nas_authentication_total',
      help: 'Authentication results: successes by method, failures by reason',
      labelNames: ['result', 'reason', 'method'],
      registers,
      collect: () => {
        for (const [method, count] of this.pendingSuccesses) {
          this.authentications.inc({ result: 'success', method: labelOf(method) }, count);
        }
        this.pendingSuccesses.clear();
      },
    });
    this.denials = new Counter({
      name: 'nas_permission_denials_total',
      help: 'Requests of authenticated principals refused for lack of a permission',
      registers,
    });
    this.rateLimitDecisions = new Counter({
      name: 'nas_rate_limit_decisions_total',
      help: 'Rate-limit decisions: denied by a policy, or blocked (an IP blocked by the anomaly detector)',
      labelNames: ['decision'],
      registers,
      collect: () => {
        if (this.pendingAllowed > 0) this.rateLimitDecisions.inc({ decision: 'allowed' }, this.pendingAllowed);
        this.pendingAllowed = 0;
      },
    });
    this.signatureFailures = new Counter({
      name: 'nas_signature_failures_total',
      help: 'Request signatures refused, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.securityEvents = new Counter({
      name: 'nas_security_events_total',
      help: 'Security events recorded, by type',
      labelNames: ['type'],
      registers,
    });
    this.suspiciousPatterns = new Counter({
      name: 'nas_suspicious_patterns_total',
      help: 'SUSPICIOUS_PATTERN events, by detector',
      labelNames: ['detector'],
      registers,
    });
    new Gauge({
      name: 'nas_audit_queue_depth',
      help: 'Audit rows waiting to be written',
      registers,
      collect() {
        let depth = 0;
        try {
          depth = auditQueueDepth ? auditQueueDepth() : 0;
        } catch {
          // A failing probe must not fail the scrape.
        }
        this.set(Number.isFinite(depth) ? depth : 0);
      },
    });
    if (!options.metrics) return;
    if (options.metrics.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'nas_' });
    this.unsubscribe = events.subscribe((record) => this.observe(record));
  }

  /**
   * Counts one successful authentication; the authentication guard calls it (there is no success event:
   * successful requests are not audit rows).
   */
  recordAuthenticationSuccess(method: string): void {
    this.pendingSuccesses.set(method, (this.pendingSuccesses.get(method) ?? 0) + 1);
  }

  /** Counts a request the rate-limit policies let through. */
  recordRateLimitAllowed(): void {
    this.pendingAllowed += 1;
  }

  /**
   * Counts a request a rate-limit policy refused. Counted here, not from events: the limiter writes
   * one event per episode (the first refusal, then a summary), not one per refusal.
   */
  recordRateLimitDenied(): void {
    this.rateLimitDecisions.inc({ decision: 'denied' });
  }

  /** The Prometheus text exposition of every metric of the registry. */
  async render(): Promise<RenderedMetrics> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  private observe(record: SecurityEventRecord): void {
    this.securityEvents.inc({ type: record.type });
    switch (record.type) {
      case 'AUTH_FAILED':
        this.authentications.inc({ result: 'failure', reason: labelOf(record.details.reason) });
        break;
      case 'PERMISSION_DENIED':
        this.denials.inc();
        break;
      case 'RATE_LIMIT_EXCEEDED':
        // Each IP-block refusal has its event; policy refusals are counted by recordRateLimitDenied().
        if (record.details.reason === 'ip_blocked') this.rateLimitDecisions.inc({ decision: 'blocked' });
        break;
      case 'SIGNATURE_REJECTED':
        this.signatureFailures.inc({ reason: labelOf(record.details.reason) });
        break;
      case 'SUSPICIOUS_PATTERN':
        this.suspiciousPatterns.inc({ detector: labelOf(record.details.detector) });
        break;
      default:
        break;
    }
  }
}
