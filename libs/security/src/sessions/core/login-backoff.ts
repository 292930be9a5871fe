/** How failed logins of one (account, IP) pair back off. */
export interface LoginBackoffPolicy {
  /** The first wait, in ms. */
  readonly baseMs: number;
  /** The longest wait, in ms. */
  readonly maxMs: number;
  /** Failures allowed before any wait: the `after`-th failure starts the first one. */
  readonly after: number;
}

/**
 * How long the pair is refused after its `failures`-th consecutive failure: nothing before `after`
 * failures, then `baseMs * 2^(failures - after)`, capped at `maxMs`.
 * @example backoffDelayMs(3, { baseMs: 1_000, maxMs: 900_000, after: 3 }) // 1_000
 * @example backoffDelayMs(5, { baseMs: 1_000, maxMs: 900_000, after: 3 }) // 4_000
 */
export function backoffDelayMs(failures: number, policy: LoginBackoffPolicy): number {
  if (!Number.isSafeInteger(failures) || failures < policy.after) return 0;
  const exponent = failures - policy.after;
  // 2^exponent overflows to Infinity long after the cap is reached; Math.min keeps the cap.
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(exponent, 1_000));
}

/**
 * How long the store keeps a pair's count once its wait is over: as long as the cap, so an attacker who
 * pauses for less than `maxMs` resumes at the delay where it stopped, and an account left alone that long
 * starts again from zero.
 */
export function backoffRetentionMs(delayMs: number, policy: LoginBackoffPolicy): number {
  return delayMs + policy.maxMs;
}

/** The state of one pair, as the stores keep it. */
export interface LoginBackoffEntry {
  /** Consecutive failures counted so far (attempts are counted when they start, see `LoginBackoffStore`). */
  readonly failures: number;
  /** Until when (ms since the epoch) every attempt is refused; 0 when none is. */
  readonly lockedUntil: number;
  /** When the entry may be forgotten (ms since the epoch). */
  readonly expiresAt: number;
}

/** What an attempt gets: go ahead (it is counted), or wait `retryAfterMs`. */
export type LoginAttemptDecision =
  { readonly allowed: true; readonly failures: number } | { readonly allowed: false; readonly retryAfterMs: number };

/**
 * Decides an attempt on `entry` at `now` and returns the entry to store. A refused attempt changes
 * nothing (so waiting is all it takes); an allowed one is counted as a failure at once, with its wait,
 * and the caller resets the pair when the password turns out right. Counting first means parallel guesses
 * cannot slip in between a check and the count.
 */
export function decideLoginAttempt(
  entry: LoginBackoffEntry | undefined,
  now: number,
  policy: LoginBackoffPolicy,
): { decision: LoginAttemptDecision; next: LoginBackoffEntry | undefined } {
  const current = entry && entry.expiresAt > now ? entry : undefined;
  if (current && current.lockedUntil > now) {
    return { decision: { allowed: false, retryAfterMs: current.lockedUntil - now }, next: current };
  }
  const failures = (current?.failures ?? 0) + 1;
  const delay = backoffDelayMs(failures, policy);
  return {
    decision: { allowed: true, failures },
    next: { failures, lockedUntil: delay > 0 ? now + delay : 0, expiresAt: now + backoffRetentionMs(delay, policy) },
  };
}
