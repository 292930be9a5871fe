/** One policy to check for a request, e.g. `{ key: 'ip:203.0.113.7', limit: 1000, windowMs: 60_000 }`. */
export interface RateLimitCheck {
  /** The counter's identity: policy name and tracker (`ip:<addr>`, `principal:<id>`, `login:<addr>`). */
  key: string;
  /** At most this much cost in any `windowMs` (sliding-window estimate), a positive integer. */
  limit: number;
  /** Window length in milliseconds, a positive integer. */
  windowMs: number;
  /** What this request costs, an integer from 0 to `limit`; default 1. 0 reads without consuming. */
  cost?: number;
  /** Once a request is refused, refuse the key for this many milliseconds; default 0 (no block). */
  blockMs?: number;
}

/** The verdict of one check, in the order of the checks. */
export interface RateLimitDecision {
  key: string;
  /** This check's own verdict; the request passes only when every decision allows. */
  allowed: boolean;
  limit: number;
  /** Whole units of cost still allowed now (after this request when it was consumed). */
  remaining: number;
  /** Milliseconds until at least one unit is available again (0 while `remaining` > 0 and not blocked). */
  resetMs: number;
  /** Milliseconds until this request would be allowed (0 when allowed): the `Retry-After`. */
  retryAfterMs: number;
}

/**
 * The rate-limit store port (also the DI token). One call decides all the policies of a request,
 * atomically together and in one round trip.
 *
 * All or nothing: when any check refuses, NONE of them consumes. Policies decided in one call
 * therefore never use up each other's budget on a refusal, and refused requests never count, so a client
 * that backs off regains its full rate. (The guards make two calls per request, IP policies before
 * authentication and principal policies after it: a request the principal refuses has used its IP unit.) A refusal still starts the refusing
 * policy's block (`blockMs`). Adapters pass `describeRateLimitStoreContract`.
 * @example
 * const [ip, principal] = await store.consume(
 *   [{ key: 'ip:203.0.113.7', limit: 1000, windowMs: 60_000 }, { key: 'principal:42', limit: 100, windowMs: 60_000 }],
 *   clock.now(),
 * );
 */
export abstract class RateLimitStore {
  /** `memory` or `redis`, for health and logs. */
  abstract readonly kind: string;
  /**
   * Decides and (when every check allows) consumes. `now` is the caller's clock, in ms since the
   * epoch. Rejects with a `TypeError` for invalid checks (see `assertValidRateLimitChecks`) and with
   * `SecurityStoreUnavailableError` when the backing store does not answer.
   */
  abstract consume(checks: readonly RateLimitCheck[], now: number): Promise<RateLimitDecision[]>;
  /** Prepares the store (connects, loads scripts); optional, `consume` works without it. */
  init?(): Promise<void>;
  /** Releases timers and connections the store owns. */
  shutdown?(): Promise<void>;
}

const MAX_SCALED = Math.floor(Number.MAX_SAFE_INTEGER / 4);

/**
 * Throws a `TypeError` when a check cannot be decided: non-integer or non-positive limit or window,
 * cost outside 0..limit (it could never pass), negative block, empty or duplicated key (a key checked
 * twice in one call would be counted once), or a `now` that is not a non-negative integer.
 */
export function assertValidRateLimitChecks(checks: readonly RateLimitCheck[], now: number): void {
  if (!Number.isSafeInteger(now) || now < 0) throw new TypeError(`rate limit: now must be an integer >= 0, got ${now}`);
  // Called on every request: no allocation unless a check is refused (a request has one to three checks).
  for (let index = 0; index < checks.length; index++) {
    const { key, limit, windowMs, cost = 1, blockMs = 0 } = checks[index]!;
    if (typeof key !== 'string' || key === '') throw new TypeError(`rate limit: a check has an empty key`);
    for (let other = 0; other < index; other++) {
      if (checks[other]!.key === key) throw invalidCheck(key, 'the key appears twice in one call');
    }
    if (!Number.isSafeInteger(limit) || limit < 1) throw invalidCheck(key, 'limit must be an integer >= 1');
    if (!Number.isSafeInteger(windowMs) || windowMs < 1) throw invalidCheck(key, 'windowMs must be an integer >= 1');
    // The arithmetic is exact on integers scaled by windowMs (see core/sliding-window.ts).
    if (limit * windowMs > MAX_SCALED) throw invalidCheck(key, 'limit × windowMs is too large');
    if (!Number.isSafeInteger(cost) || cost < 0 || cost > limit) {
      throw invalidCheck(key, `cost must be an integer from 0 to the limit (${limit}), got ${cost}`);
    }
    if (!Number.isSafeInteger(blockMs) || blockMs < 0) throw invalidCheck(key, 'blockMs must be an integer >= 0');
  }
}

function invalidCheck(key: string, problem: string): TypeError {
  return new TypeError(`rate limit check ${JSON.stringify(key)}: ${problem}`);
}
