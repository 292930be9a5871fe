/**
 * Sliding-window counter (the approximation Cloudflare and Redis Labs describe): two counters per key,
 * the current fixed window and the one before it, with windows aligned on multiples of `windowMs` since
 * the epoch. The number of requests "in the last `windowMs`" is estimated as
 *
 *   estimate = previous × (1 − elapsed / windowMs) + current
 *
 * where `elapsed` is the time since the current window started. O(1) memory per key, no timestamps list.
 *
 * The same arithmetic runs in the Redis Lua script (`redis-rate-limit.store.ts`); both compare integers
 * scaled by `windowMs` (`previous × (windowMs − elapsed) + (current + cost) × windowMs ≤ limit × windowMs`),
 * so they agree to the millisecond and never suffer from floating-point rounding.
 *
 * Pure: no clock of its own; the caller passes `now` (from a `Clock`).
 */

/** What is stored per key. A missing record is the same as all zeros. */
export interface SlidingWindowState {
  /** Start of the current fixed window, a multiple of `windowMs` (ms since the epoch). */
  readonly windowStart: number;
  /** Cost consumed in the window that starts at `windowStart`. */
  readonly current: number;
  /** Cost consumed in the window before it. */
  readonly previous: number;
  /** The key is refused until this instant (ms since the epoch); 0 when not blocked. */
  readonly blockedUntil: number;
}

/** One policy's input. */
export interface SlidingWindowInput {
  /** The stored state, or `undefined` for a key never seen (or expired). */
  readonly state: SlidingWindowState | undefined;
  /** Milliseconds since the epoch, an integer. */
  readonly now: number;
  /** At most this much cost in any `windowMs` (estimated), a positive integer. */
  readonly limit: number;
  /** Window length in milliseconds, a positive integer. */
  readonly windowMs: number;
  /** What this request costs, an integer from 0 to `limit`. 0 only reads the state. */
  readonly cost: number;
  /** Once a request is refused, refuse the key for this long (0: no block). */
  readonly blockMs: number;
}

/** One policy's verdict. */
export interface SlidingWindowResult {
  readonly allowed: boolean;
  /** Whole units of cost that would still be allowed right now, after this request. */
  readonly remaining: number;
  /**
   * Milliseconds until the estimate has fallen enough for one more unit of cost (and any block has
   * ended); 0 while `remaining` > 0 and the key is not blocked.
   */
  readonly resetMs: number;
  /** Milliseconds until this same request (same cost) would be allowed; 0 when allowed. */
  readonly retryAfterMs: number;
  /**
   * The state to store: consumed when allowed. A refused request does NOT consume (so a client that
   * keeps hammering is not pushed further back than its real rate deserves); it only starts the block,
   * when the policy has one and the key is not already blocked (a block is not extended by retries).
   */
  readonly state: SlidingWindowState;
}

const EMPTY: SlidingWindowState = { windowStart: 0, current: 0, previous: 0, blockedUntil: 0 };

/**
 * Decides one request against one policy.
 * @example
 * slidingWindow({ state: undefined, now: 60_000, limit: 10, windowMs: 60_000, cost: 1, blockMs: 0 })
 * // { allowed: true, remaining: 9, resetMs: 0, retryAfterMs: 0, state: { windowStart: 60_000, current: 1, ... } }
 */
export function slidingWindow(input: SlidingWindowInput): SlidingWindowResult {
  const { now, limit, windowMs, cost, blockMs } = input;
  const rolled = roll(input.state ?? EMPTY, now, windowMs);
  const blocked = rolled.blockedUntil > now;
  const allowed = !blocked && fits(rolled, now, limit, windowMs, cost);
  if (allowed) {
    const state = { ...rolled, current: rolled.current + cost };
    return {
      allowed,
      remaining: remainingOf(state, now, limit, windowMs),
      resetMs: waitMs(state, now, windowMs, limit - 1),
      retryAfterMs: 0,
      state,
    };
  }
  const state = !blocked && blockMs > 0 ? { ...rolled, blockedUntil: now + blockMs } : rolled;
  const blockLeft = Math.max(0, state.blockedUntil - now);
  return {
    allowed,
    remaining: state.blockedUntil > now ? 0 : remainingOf(state, now, limit, windowMs),
    resetMs: Math.max(blockLeft, waitMs(state, now, windowMs, limit - 1)),
    retryAfterMs: Math.max(blockLeft, waitMs(state, now, windowMs, limit - cost)),
    state,
  };
}

/**
 * Decides one request against several policies, all or nothing: when any policy refuses, none
 * consumes, and the policies that would have allowed report their unconsumed state (re-evaluated with
 * cost 0, so `allowed` stays true for them and their `remaining` is what is really left).
 */
export function slidingWindowAll(inputs: readonly SlidingWindowInput[]): SlidingWindowResult[] {
  const results = inputs.map(slidingWindow);
  if (results.every((result) => result.allowed)) return results;
  return results.map((result, i) => (result.allowed ? slidingWindow({ ...inputs[i]!, cost: 0 }) : result));
}

/** Milliseconds after which a stored state no longer matters (both windows over and any block ended). */
export function stateExpiresAt(state: SlidingWindowState, windowMs: number): number {
  return Math.max(state.windowStart + 2 * windowMs, state.blockedUntil);
}

/** Moves the state to the window that contains `now`. A state from the future (clock skew) is kept. */
function roll(state: SlidingWindowState, now: number, windowMs: number): SlidingWindowState {
  const windowStart = now - (now % windowMs);
  if (state.windowStart >= windowStart) return state;
  const previous = state.windowStart === windowStart - windowMs ? state.current : 0;
  return { windowStart, current: 0, previous, blockedUntil: state.blockedUntil };
}

// The estimate scaled by windowMs, an exact integer: previous × (windowMs − elapsed) + current × windowMs.
function scaledEstimate(state: SlidingWindowState, now: number, windowMs: number): number {
  const elapsed = Math.min(windowMs, Math.max(0, now - state.windowStart));
  return state.previous * (windowMs - elapsed) + state.current * windowMs;
}

function fits(state: SlidingWindowState, now: number, limit: number, windowMs: number, cost: number): boolean {
  return scaledEstimate(state, now, windowMs) + cost * windowMs <= limit * windowMs;
}

function remainingOf(state: SlidingWindowState, now: number, limit: number, windowMs: number): number {
  return Math.max(0, Math.floor((limit * windowMs - scaledEstimate(state, now, windowMs)) / windowMs));
}

/**
 * Milliseconds from `now` until the estimate is at most `target` (>= 0): first the previous window's
 * share fades during the rest of the current window; if the current count alone is still above
 * `target`, it fades in turn during the next window.
 */
function waitMs(state: SlidingWindowState, now: number, windowMs: number, target: number): number {
  const elapsed = Math.min(windowMs, Math.max(0, now - state.windowStart));
  const { previous, current } = state;
  if (current <= target) {
    if (previous === 0) return 0;
    // previous × (windowMs − elapsed − t) + current × windowMs <= target × windowMs
    return Math.max(0, Math.ceil(((windowMs - elapsed) * previous - (target - current) * windowMs) / previous));
  }
  // At the next window: current × (windowMs − s) <= target × windowMs
  return windowMs - elapsed + Math.ceil((windowMs * (current - target)) / current);
}
