import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { SecurityEvents } from '../audit/security-events.service.js';
import type { SecurityEventRecord } from '../audit/security-event-types.js';
import { Clock } from '../core/clock.js';
import type { Limit } from '../core/durations.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { SECURITY_OPTIONS } from '../security.constants.js';
import { ExpiringMap } from './core/expiring-map.js';
import { clientIpKey as ipKey } from '../rate-limit/core/client-ip.js';
import { SlidingWindowCounter } from './core/sliding-counter.js';

/** The detectors, as named in `SUSPICIOUS_PATTERN` events (`details.detector`) and metrics. */
export type AnomalyDetectorName = 'failed-auth-by-ip' | 'denials-by-principal';

/** One detector: a counter per key and the keys already reported in the current window. */
interface Detector {
  readonly limit: Limit;
  readonly counter: SlidingWindowCounter;
  readonly reported: ExpiringMap;
}

// Bounds memory whatever the number of distinct attackers; the least recently seen are dropped first.
const MAX_KEYS = 10_000;

/**
 * Watches the security events and raises `SUSPICIOUS_PATTERN` once per window and key when
 * - `failed-auth-by-ip`: refused credentials from one IP (IPv6: one /64) reach `anomalies.failedAuthPerIp`
 *   (`AUTH_FAILED` with a reason other than `missing`: a credential was presented); the IP is then
 *   blocked for `anomalies.blockFor` (see `IpBlockGuard`);
 * - `denials-by-principal`: permission denials of one principal reach `anomalies.denialsPerPrincipal`
 *   (reported only: blocking by principal, key id or username would let anyone lock a victim out).
 * State is in memory, per instance.
 */
@Injectable()
export class AnomalyDetector implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly failedAuthByIp: Detector | undefined;
  private readonly denialsByPrincipal: Detector | undefined;
  private readonly blocked = new ExpiringMap(MAX_KEYS);
  private readonly blockForMs: number | false;
  private readonly unsubscribe: () => void;

  constructor(
    @Inject(SECURITY_OPTIONS) options: ResolvedSecurityOptions,
    private readonly events: SecurityEvents,
    private readonly clock: Clock,
  ) {
    const anomalies = options.anomalies;
    this.failedAuthByIp = anomalies ? detector(anomalies.failedAuthPerIp) : undefined;
    this.denialsByPrincipal = anomalies ? detector(anomalies.denialsPerPrincipal) : undefined;
    this.blockForMs = anomalies ? anomalies.blockForMs : false;
    this.unsubscribe =
      this.failedAuthByIp || this.denialsByPrincipal
        ? events.subscribe((record) => this.observe(record))
        : () => undefined;
  }

  /** Until when (ms since the epoch) requests from `ip` are refused, or `undefined` when they are not. */
  blockedUntil(ip: string, now = this.clock.now()): number | undefined {
    return this.blocked.get(ipKey(ip), now);
  }

  /** Lifts the block of `ip` (and of its IPv6 /64) at once. */
  unblock(ip: string): void {
    this.blocked.delete(ipKey(ip));
  }

  onApplicationBootstrap(): void {
    const limit = (l: Limit | undefined) => (l ? `${l.limit} per ${l.windowMs / 1000}s` : 'off');
    const block = this.blockForMs === false ? 'no blocking' : `blocks the IP for ${this.blockForMs / 1000}s`;
    new Logger('Security').log(
      `anomaly detection (per instance): failed authentications by IP ${limit(this.failedAuthByIp?.limit)}` +
        `${this.failedAuthByIp ? ` (${block})` : ''}; denials by principal ${limit(this.denialsByPrincipal?.limit)}`,
    );
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  // Called synchronously by SecurityEvents.record(), so a block is in place before the response is sent.
  // It reacts to AUTH_FAILED and PERMISSION_DENIED only: its own SUSPICIOUS_PATTERN events cannot loop.
  private observe(record: SecurityEventRecord): void {
    const now = this.clock.now();
    if (record.type === 'AUTH_FAILED' && this.failedAuthByIp && record.ip && record.details.reason !== 'missing') {
      const ip = ipKey(record.ip);
      const count = this.check(this.failedAuthByIp, ip, now);
      if (count === undefined) return;
      const blockedUntil = this.blockForMs === false ? undefined : now + this.blockForMs;
      if (blockedUntil !== undefined) this.blocked.set(ip, blockedUntil);
      this.raise(record, 'failed-auth-by-ip', this.failedAuthByIp, count, {
        ip,
        ...(blockedUntil !== undefined ? { blockedUntil: new Date(blockedUntil).toISOString() } : {}),
      });
    } else if (record.type === 'PERMISSION_DENIED' && this.denialsByPrincipal) {
      const principalId = record.principalId ?? record.details.principalId;
      if (typeof principalId !== 'string' || principalId === '') return;
      const count = this.check(this.denialsByPrincipal, principalId, now);
      if (count === undefined) return;
      this.raise(record, 'denials-by-principal', this.denialsByPrincipal, count, {
        principalId,
        ...(record.ip ? { ip: record.ip } : {}),
      });
    }
  }

  // Counts one hit; returns the count when it reaches the limit and the key was not reported in this window.
  private check(detector: Detector, key: string, now: number): number | undefined {
    const count = detector.counter.hit(key, now);
    if (count < detector.limit.limit || detector.reported.get(key, now) !== undefined) return undefined;
    detector.reported.set(key, now + detector.limit.windowMs);
    return count;
  }

  private raise(
    trigger: SecurityEventRecord,
    name: AnomalyDetectorName,
    detector: Detector,
    count: number,
    details: Record<string, unknown>,
  ): void {
    void this.events.record({
      type: 'SUSPICIOUS_PATTERN',
      outcome: 'denied',
      principalId: name === 'denials-by-principal' ? (details.principalId as string) : undefined,
      request: {
        requestId: trigger.requestId ?? undefined,
        method: trigger.method ?? undefined,
        path: trigger.path ?? undefined,
        ip: trigger.ip ?? undefined,
        userAgent: trigger.userAgent ?? undefined,
      },
      details: {
        detector: name,
        ...details,
        count,
        limit: detector.limit.limit,
        windowSeconds: detector.limit.windowMs / 1000,
        triggeredBy: trigger.id,
      },
    });
  }
}

function detector(limit: Limit | false): Detector | undefined {
  if (!limit) return undefined;
  return {
    limit,
    counter: new SlidingWindowCounter({ windowMs: limit.windowMs, maxKeys: MAX_KEYS }),
    reported: new ExpiringMap(MAX_KEYS),
  };
}
