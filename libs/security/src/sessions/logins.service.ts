import { Injectable } from '@nestjs/common';
import { SecurityEvents } from '../audit/security-events.service.js';
import { RateLimitExceededError } from '../core/errors.js';
import { summarizeRequest, type HttpRequestLike } from '../http/http-request.js';
import { Principals } from '../principals/principals.service.js';
import { LoginBackoff } from './login-backoff.service.js';
import { Sessions, type IssuedSession } from './sessions.service.js';

/**
 * Password login that opens a session: the (username, IP) backoff first, then `Principals.login` (same
 * answer and timing for every failure), then a new session with a new random token. A client-supplied
 * token is never looked at, let alone adopted, so a session cannot be fixed in advance.
 */
@Injectable()
export class Logins {
  constructor(
    private readonly principals: Principals,
    private readonly sessions: Sessions,
    private readonly backoff: LoginBackoff,
    private readonly events: SecurityEvents,
  ) {}

  /**
   * Checks the password and opens a session. Throws `InvalidCredentialsError` (401) for any wrong
   * credential and `RateLimitExceededError` (429, `Retry-After`) while the pair backs off: the password is
   * then not even checked, so a right one is refused too until the wait is over.
   */
  async login(username: string, password: string, request: HttpRequestLike): Promise<IssuedSession> {
    const summary = summarizeRequest(request);
    const decision = await this.backoff.attempt(username, request);
    if (!decision.allowed) {
      const retryAfterSeconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
      await this.events.record({
        type: 'LOGIN_FAILED',
        outcome: 'denied',
        status: 429,
        request: summary,
        details: { reason: 'backoff', username: username.slice(0, 64), retryAfterSeconds },
      });
      throw new RateLimitExceededError(retryAfterSeconds, { policy: 'login-backoff' }, { recorded: true });
    }
    const { principalId } = await this.principals.login(username, password, summary);
    await this.backoff.succeeded(username, request);
    return this.sessions.create(principalId, request);
  }
}
