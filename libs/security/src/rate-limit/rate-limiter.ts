import type { RateLimitStoreErrorMode } from '../options/security-options.js';
import type { RateLimitDecision } from './core/rate-limit-headers.js';
import type { RateLimitCheck, RateLimitStore } from './rate-limit.store.js';

/** One policy to decide for a request: a store check plus what the headers and failure handling need. */
export interface RateLimitPolicyCheck extends RateLimitCheck {
  /** Header name: `ip`, `principal` or the route policy's name. */
  readonly name: string;
  /** What to do with this policy while the store does not answer. */
  readonly onStoreError: RateLimitStoreErrorMode;
}

/** One policy's verdict, in the order of the checks: what the headers show, plus the counter key. */
export interface RateLimitPolicyDecision extends RateLimitDecision {
  readonly key: string;
  /** Set when the shared store did not answer: decided by the local fallback, or let through (`open`). */
  readonly degraded?: 'local' | 'open';
}

/** The verdict for a request. */
export interface RateLimitVerdict {
  /** Every policy allowed. */
  readonly allowed: boolean;
  /** A policy in `closed` mode could not be decided: answer 503, whatever the others said. */
  readonly unavailable: boolean;
  readonly decisions: readonly RateLimitPolicyDecision[];
}

/** `shared`: the configured store decides; `degraded`: it failed and the per-policy fallbacks decide. */
export type RateLimiterMode = 'shared' | 'degraded';

/** A change of mode, reported once per transition. */
export interface RateLimiterModeChange {
  readonly mode: RateLimiterMode;
  readonly previous: RateLimiterMode;
  readonly store: string;
  /** Why the store was given up on (the error message), for `degraded`. */
  readonly reason?: string;
}

/** Options of `RateLimiter`. */
export interface RateLimiterOptions {
  /** The shared store; it must reject (not hang) when its backend does not answer within its timeout. */
  readonly store: RateLimitStore;
  /** The per-instance store for `local` policies while `store` is failing. Omit when `store` is already in memory. */
  readonly fallback?: RateLimitStore;
  /** While degraded, one request per this many milliseconds tries the store again. */
  readonly probeIntervalMs: number;
  /** Milliseconds since the epoch (a `Clock`). */
  readonly now: () => number;
  readonly onModeChange?: (change: RateLimiterModeChange) => void;
}

/**
 * Decides the policies of a request with the shared store, and survives its failure: a circuit
 * breaker. The first failed call (an error or the store's own timeout) switches to `degraded`; from
 * then on requests are decided without calling the store (each policy as its `onStoreError` says:
 * `local` in the in-memory fallback, `open` allowed, `closed` unavailable), except one request per
 * `probeIntervalMs`, which tries the store again and switches back to `shared` when it answers. So a
 * dead Redis costs no request more than one timeout, and recovery is noticed within one probe interval
 * of the next request.
 *
 * The fallback counts only while the store is failing (its counters are empty at the first outage, and
 * keep what an earlier outage in the same window counted): for one window a client can get up to its
 * limit again on each instance. That is the price of `local`; `closed` is there for routes where it is
 * too high.
 * @example
 * const limiter = new RateLimiter({ store, fallback: new MemoryRateLimitStore(), probeIntervalMs: 1_000, now: Date.now });
 * const verdict = await limiter.check([{ name: 'ip', key: 'ip:203.0.113.7', limit: 1000, windowMs: 60_000, onStoreError: 'local' }]);
 */
export class RateLimiter {
  private current: RateLimiterMode = 'shared';
  private lastProbeAt = 0;
  private probing = false;

  constructor(private readonly options: RateLimiterOptions) {
    if (!Number.isSafeInteger(options.probeIntervalMs) || options.probeIntervalMs < 1) {
      throw new TypeError(`RateLimiter: probeIntervalMs must be an integer >= 1, got ${options.probeIntervalMs}`);
    }
  }

  get mode(): RateLimiterMode {
    return this.current;
  }

  /** Decides (and, when every policy allows, consumes) all the checks of one request together. */
  async check(checks: readonly RateLimitPolicyCheck[]): Promise<RateLimitVerdict> {
    if (checks.length === 0) return { allowed: true, unavailable: false, decisions: [] };
    const now = this.options.now();
    if (this.current === 'shared') {
      try {
        return verdictOf(checks, await this.options.store.consume(checks, now));
      } catch (error) {
        if (error instanceof TypeError) throw error;
        this.switchTo('degraded', error);
      }
    } else if (!this.probing && this.probeDue(now)) {
      this.probing = true;
      this.lastProbeAt = now;
      try {
        const decisions = await this.options.store.consume(checks, now);
        this.switchTo('shared');
        return verdictOf(checks, decisions);
      } catch (error) {
        if (error instanceof TypeError) throw error;
      } finally {
        this.probing = false;
      }
    }
    return this.degraded(checks, now);
  }

  // A wall clock set back (NTP) would otherwise hold probes off until it caught up with the last one.
  private probeDue(now: number): boolean {
    return now < this.lastProbeAt || now - this.lastProbeAt >= this.options.probeIntervalMs;
  }

  private async degraded(checks: readonly RateLimitPolicyCheck[], now: number): Promise<RateLimitVerdict> {
    if (checks.some((check) => check.onStoreError === 'closed')) {
      return { allowed: false, unavailable: true, decisions: [] };
    }
    const local = this.options.fallback ? checks.filter((check) => check.onStoreError === 'local') : [];
    const decided = local.length > 0 ? await this.options.fallback!.consume(local, now) : [];
    const decisions = checks.map((check): RateLimitPolicyDecision => {
      const index = local.indexOf(check);
      if (index !== -1) return { ...decisionOf(check, decided[index]!), degraded: 'local' };
      return {
        name: check.name,
        key: check.key,
        allowed: true,
        limit: check.limit,
        windowMs: check.windowMs,
        remaining: check.limit,
        resetMs: 0,
        retryAfterMs: 0,
        degraded: 'open',
      };
    });
    return { allowed: decisions.every((d) => d.allowed), unavailable: false, decisions };
  }

  private switchTo(mode: RateLimiterMode, error?: unknown): void {
    if (mode === this.current) return;
    const previous = this.current;
    this.current = mode;
    if (mode === 'degraded') this.lastProbeAt = this.options.now();
    this.options.onModeChange?.({
      mode,
      previous,
      store: this.options.store.kind,
      ...(error === undefined ? {} : { reason: reasonOf(error) }),
    });
  }
}

function verdictOf(
  checks: readonly RateLimitPolicyCheck[],
  decisions: readonly { allowed: boolean; remaining: number; resetMs: number; retryAfterMs: number }[],
): RateLimitVerdict {
  const mapped = checks.map((check, i) => decisionOf(check, decisions[i]!));
  return { allowed: mapped.every((d) => d.allowed), unavailable: false, decisions: mapped };
}

function decisionOf(
  check: RateLimitPolicyCheck,
  decision: { allowed: boolean; remaining: number; resetMs: number; retryAfterMs: number },
): RateLimitPolicyDecision {
  return {
    name: check.name,
    key: check.key,
    allowed: decision.allowed,
    limit: check.limit,
    windowMs: check.windowMs,
    remaining: decision.remaining,
    resetMs: decision.resetMs,
    retryAfterMs: decision.retryAfterMs,
  };
}

function reasonOf(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}
