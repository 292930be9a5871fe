import { SecurityConfigError } from '../../core/errors.js';

/** The outcome of one rate-limit policy for one request, as the headers need it. */
export interface RateLimitDecision {
  /** `"ip"`, `"principal"` or the route policy's name. */
  readonly name: string;
  /** Requests allowed per window (the policy's quota). */
  readonly limit: number;
  readonly windowMs: number;
  /** Requests left in the current window; negative values count as 0. */
  readonly remaining: number;
  /** Time until the window resets, in milliseconds from now (a delta, not an instant). */
  readonly resetMs: number;
  /** Time until a refused request may be retried, in milliseconds from now. */
  readonly retryAfterMs: number;
  readonly allowed: boolean;
}

/**
 * Checks a policy name can be sent as a structured-field String (printable ASCII, `"` and `\` are
 * escaped) and returns its serialised form. Call it when policies are configured so a bad name fails
 * at boot; `buildRateLimitHeaders` calls it too.
 * @example serializePolicyName('login') // '"login"'
 */
export function serializePolicyName(name: string): string {
  const known = SERIALIZED_NAMES.get(name);
  if (known !== undefined) return known;
  // RFC 9651 sf-string: %x20-7E only; an empty name would be a valid String but names nothing.
  if (typeof name !== 'string' || name.length === 0 || !/^[\x20-\x7e]+$/.test(name)) {
    throw new SecurityConfigError(
      'ERR_SECURITY_CONFIG_INVALID_POLICY_NAME',
      'rateLimit.policies',
      `${JSON.stringify(name)} cannot be a rate-limit policy name; use printable ASCII characters, e.g. "login"`,
    );
  }
  const serialized = `"${name.replace(/[\\"]/g, '\\$&')}"`;
  // Policy names come from configuration and decorators, so the set is small; the bound is a safeguard.
  if (SERIALIZED_NAMES.size >= 1_000) SERIALIZED_NAMES.clear();
  SERIALIZED_NAMES.set(name, serialized);
  return serialized;
}

// Names already checked and serialised: the headers are built on every request.
const SERIALIZED_NAMES = new Map<string, string>();

/**
 * The rate-limit response headers for the policies applied to a request:
 * `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers) list every policy in the
 * given order; `X-RateLimit-Limit`, `-Remaining` and `-Reset` describe the policy with the least
 * remaining (ties: the one resetting last); `Retry-After` is set when any policy refused, to the
 * longest wait among the refusing policies and the policies this request left with nothing remaining
 * (a retry after a shorter wait would be refused by those). Times are whole seconds, rounded up. No
 * policies, no headers.
 * @example
 * buildRateLimitHeaders([{ name: 'ip', limit: 1000, windowMs: 60_000, remaining: 999, resetMs: 60_000, retryAfterMs: 0, allowed: true }])
 * // { 'RateLimit-Policy': '"ip";q=1000;w=60', RateLimit: '"ip";r=999;t=60', 'X-RateLimit-Limit': '1000', ... }
 */
export function buildRateLimitHeaders(decisions: readonly RateLimitDecision[]): Record<string, string> {
  if (decisions.length === 0) return {};
  const policies: string[] = [];
  const states: string[] = [];
  let tightest: { limit: number; remaining: number; resetMs: number; reset: number } | undefined;
  let retryAfter = 0;
  // Policies that allowed this request but have nothing left: the next one waits for them too.
  let exhaustedWait = 0;
  for (const decision of decisions) {
    const name = serializePolicyName(decision.name);
    const limit = integer(decision.limit, 'limit');
    const remaining = Math.min(limit, integer(decision.remaining, 'remaining'));
    const limited = !decision.allowed || remaining === 0;
    const resetMs = Math.max(0, finite(decision.resetMs, 'resetMs'));
    const reset = seconds(resetMs, limited);
    policies.push(`${name};q=${limit};w=${seconds(finite(decision.windowMs, 'windowMs'), true)}`);
    states.push(`${name};r=${remaining};t=${reset}`);
    if (
      !tightest ||
      remaining < tightest.remaining ||
      (remaining === tightest.remaining && resetMs > tightest.resetMs)
    ) {
      tightest = { limit, remaining, resetMs, reset };
    }
    if (!decision.allowed) {
      // A store that gives no retry time still knows when the window resets.
      const waitMs = finite(decision.retryAfterMs, 'retryAfterMs') > 0 ? decision.retryAfterMs : resetMs;
      retryAfter = Math.max(retryAfter, seconds(waitMs, true));
    } else if (remaining === 0) {
      exhaustedWait = Math.max(exhaustedWait, reset);
    }
  }
  if (retryAfter > 0) retryAfter = Math.max(retryAfter, exhaustedWait);
  const headers: Record<string, string> = {
    'RateLimit-Policy': policies.join(', '),
    RateLimit: states.join(', '),
    'X-RateLimit-Limit': String(tightest!.limit),
    'X-RateLimit-Remaining': String(tightest!.remaining),
    'X-RateLimit-Reset': String(tightest!.reset),
  };
  if (retryAfter > 0) headers['Retry-After'] = String(retryAfter);
  return headers;
}

// Whole seconds, rounded up so a client never retries early; at least 1 where 0 would mean "now".
function seconds(ms: number, atLeastOne: boolean): number {
  const whole = Math.ceil(ms / 1000);
  return atLeastOne ? Math.max(1, whole) : whole;
}

// Non-negative whole number (sf-integer); fractional counts from a store are rounded down.
function integer(value: number, field: string): number {
  return Math.max(0, Math.floor(finite(value, field)));
}

function finite(value: number, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RangeError(`rate-limit decision: ${field} must be a finite number, got ${String(value)}`);
  }
  return value;
}
