import type { LoginAttemptDecision, LoginBackoffPolicy } from './core/login-backoff.js';

/**
 * The port of failed-login backoff state, and its DI token: one entry per (username, client IP) pair,
 * behind an opaque key. `attempt` decides and counts in one atomic step (see `decideLoginAttempt`);
 * `reset` forgets the pair after a successful login. Adapters pass `describeLoginBackoffStoreContract`
 * and must stay bounded in memory.
 */
export abstract class LoginBackoffStore {
  /** `memory` or `redis`, for logs. */
  abstract readonly kind: string;
  /** Refuses the attempt while the pair waits, otherwise counts it as a failure and allows it. */
  abstract attempt(key: string, now: number, policy: LoginBackoffPolicy): Promise<LoginAttemptDecision>;
  /** Forgets the pair (a successful login). */
  abstract reset(key: string): Promise<void>;
}
