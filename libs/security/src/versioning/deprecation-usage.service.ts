import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { SecurityEvents } from '../audit/security-events.service.js';
import { Clock } from '../core/clock.js';
import type { RequestSummary } from '../http/http-request.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { SECURITY_OPTIONS } from '../security.constants.js';
import { buildDeprecationReport, callKeyOf, mergeCounts, type DeprecationReport } from './core/deprecation-report.js';
import type { DeprecationLifecycle, DeprecationPhase } from './core/deprecation.js';
import { DeprecationUsageStore, type DeprecatedCallCount, type DeprecatedCallKey } from './deprecation-usage.store.js';

/** One call to a deprecated route, as the guard reports it. */
export interface DeprecatedCall extends DeprecatedCallKey {
  readonly phase: DeprecationPhase;
  readonly lifecycle: DeprecationLifecycle;
  /** Refused by the lifecycle (403 or 410). */
  readonly refused: boolean;
  readonly status?: number;
  readonly request?: RequestSummary;
}

// Distinct (route, principal, key) counts held between flushes; beyond it new ones wait for the next flush.
const MAX_PENDING = 10_000;
// Event throttle entries kept before expired ones are swept.
const MAX_THROTTLE = 10_000;
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Counts calls to deprecated routes in memory and adds them to the `DeprecationUsageStore` every
 * `deprecations.flushInterval` and at shutdown (aggregated: one row per route, version, principal and
 * key). A failed flush keeps its counts for the next one. Writes `DEPRECATED_CALL` at most once per
 * route, principal, key and phase per `deprecations.eventInterval`.
 */
@Injectable()
export class DeprecationUsage implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Security');
  private pending = new Map<string, DeprecatedCallCount>();
  private readonly lastEventAt = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private dropped = 0;

  constructor(
    @Inject(SECURITY_OPTIONS) private readonly options: ResolvedSecurityOptions,
    private readonly store: DeprecationUsageStore,
    private readonly events: SecurityEvents,
    private readonly clock: Clock,
  ) {}

  onApplicationBootstrap(): void {
    const deprecations = this.options.deprecations;
    if (!deprecations) return;
    this.timer = setInterval(() => void this.flush(), deprecations.flushIntervalMs);
    this.timer.unref();
  }

  // Before shutdown, while the database and the audit writer are still open.
  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Counts one call (and records its event when due). Never throws into the request. */
  record(call: DeprecatedCall): void {
    const now = this.clock.now();
    const at = new Date(now);
    const key: DeprecatedCallKey = {
      version: call.version,
      method: call.method,
      path: call.path,
      principalId: call.principalId,
      keyId: call.keyId,
    };
    const id = callKeyOf(key);
    const count: DeprecatedCallCount = {
      ...key,
      count: 1,
      refused: call.refused ? 1 : 0,
      firstSeenAt: at,
      lastSeenAt: at,
      lastPhase: call.phase,
    };
    const existing = this.pending.get(id);
    if (existing) this.pending.set(id, mergeCounts(existing, count));
    else if (this.pending.size < MAX_PENDING) this.pending.set(id, count);
    else this.dropped += 1;
    this.maybeRecordEvent(`${id}\n${call.phase}`, call, now);
  }

  /** Adds what was counted since the last flush to the store; on failure the counts wait for the next. */
  flush(): Promise<void> {
    // One flush at a time: a second caller waits for the running one, then flushes what came after.
    const run = (this.flushing ?? Promise.resolve()).then(() => this.flushOnce());
    const tracked: Promise<void> = run.finally(() => {
      if (this.flushing === tracked) this.flushing = undefined;
    });
    this.flushing = tracked;
    return run;
  }

  /** Who calls which deprecated route, from the store (this instance's pending counts flushed first). */
  async report(): Promise<DeprecationReport> {
    await this.flush();
    return buildDeprecationReport(await this.store.list());
  }

  private async flushOnce(): Promise<void> {
    if (this.dropped > 0) {
      this.logger.warn(
        `deprecated-call usage: ${this.dropped} calls from new callers were not counted (more than ${MAX_PENDING} waiting)`,
      );
      this.dropped = 0;
    }
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.store.add([...batch.values()]);
    } catch (error) {
      // Put the counts back, merged with what arrived meanwhile: nothing counted is lost to a database blip.
      for (const [id, count] of batch) {
        const newer = this.pending.get(id);
        this.pending.set(id, newer ? mergeCounts(count, newer) : count);
      }
      this.logger.warn(`deprecated-call usage not written yet (${batch.size} rows kept): ${errorText(error)}`);
    }
  }

  private maybeRecordEvent(throttleKey: string, call: DeprecatedCall, now: number): void {
    const interval = this.options.deprecations ? this.options.deprecations.eventIntervalMs : 3_600_000;
    const last = this.lastEventAt.get(throttleKey);
    if (last !== undefined && now - last < interval) return;
    if (this.lastEventAt.size >= MAX_THROTTLE) {
      for (const [key, at] of this.lastEventAt) if (now - at >= interval) this.lastEventAt.delete(key);
      // Still full of live entries: forget the oldest rather than grow without bound.
      if (this.lastEventAt.size >= MAX_THROTTLE) this.lastEventAt.delete(this.lastEventAt.keys().next().value!);
    }
    this.lastEventAt.set(throttleKey, now);
    void this.events.record({
      type: 'DEPRECATED_CALL',
      outcome: call.refused ? 'denied' : 'success',
      principalId: call.principalId ?? undefined,
      keyId: call.keyId ?? undefined,
      status: call.status,
      request: call.request,
      details: {
        version: call.version,
        method: call.method,
        route: call.path,
        phase: call.phase,
        deprecatedAt: new Date(call.lifecycle.deprecatedAt).toISOString(),
        sunsetAt: new Date(call.lifecycle.sunsetAt).toISOString(),
        ...(call.lifecycle.successor ? { successor: call.lifecycle.successor } : {}),
      },
    });
  }
}
