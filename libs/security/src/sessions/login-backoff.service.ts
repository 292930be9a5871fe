import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Clock } from '../core/clock.js';
import type { HttpRequestLike } from '../http/http-request.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { clientIpKey, resolveClientIp } from '../rate-limit/core/client-ip.js';
import { SECURITY_OPTIONS } from '../security.constants.js';
import { MemoryLoginBackoffStore } from './adapters/memory-login-backoff.store.js';
import type { LoginAttemptDecision } from './core/login-backoff.js';
import { LoginBackoffStore } from './login-backoff.store.js';
import type { ResolvedLoginBackoffOptions } from './session-options.js';

/**
 * Failed-login backoff per (username, client IP): once a pair has failed `after` times, each further
 * attempt from it waits `base * 2^(n - after)`, capped at `max`, and a success resets it. Keyed by the pair,
 * never by the account alone, so failures from an attacker's address cannot lock the owner out of theirs
 * (the login rate limit per IP bounds how many usernames one address can try). The client IP is the one
 * the rate limits use (`trustProxy`, IPv6 by /64). A shared store that fails is replaced by this
 * instance's memory until it answers again: the backoff gets weaker, never open.
 */
@Injectable()
export class LoginBackoff {
  private readonly logger = new Logger('Security');
  private readonly policy: ResolvedLoginBackoffOptions | false;
  private readonly fallback = new MemoryLoginBackoffStore();
  private degraded = false;

  constructor(
    @Inject(SECURITY_OPTIONS) private readonly options: ResolvedSecurityOptions,
    private readonly store: LoginBackoffStore,
    private readonly clock: Clock,
  ) {
    this.policy = options.sessions ? options.sessions.loginBackoff : false;
  }

  /** Whether backoff is on. */
  get enabled(): boolean {
    return this.policy !== false;
  }

  /**
   * Decides a login attempt of `username` from the request's client: refused (wait `retryAfterMs`) while the
   * pair backs off; otherwise allowed and already counted as a failure, until `succeeded` resets it.
   */
  async attempt(username: string, request: HttpRequestLike): Promise<LoginAttemptDecision> {
    if (!this.policy) return { allowed: true, failures: 0 };
    const key = this.keyOf(username, request);
    const now = this.clock.now();
    try {
      const decision = await this.store.attempt(key, now, this.policy);
      this.recovered();
      return decision;
    } catch (error) {
      this.failed(error);
      return this.fallback.attempt(key, now, this.policy);
    }
  }

  /** Forgets the pair's failures (the password was right). */
  async succeeded(username: string, request: HttpRequestLike): Promise<void> {
    if (!this.policy) return;
    const key = this.keyOf(username, request);
    await this.fallback.reset(key);
    await this.store.reset(key).catch((error: unknown) => this.failed(error));
  }

  /** The opaque store key of a pair: SHA-256 of the normalised username and the client's address key. */
  keyOf(username: string, request: HttpRequestLike): string {
    const ip = resolveClientIp({
      remoteAddress: request.socket?.remoteAddress ?? request.raw?.socket?.remoteAddress,
      forwardedFor: request.headers['x-forwarded-for'],
      trustProxy: this.options.trustProxy,
    });
    const ipKey = clientIpKey(ip, { ipv6Prefix: this.options.rateLimit ? this.options.rateLimit.ipv6Prefix : 64 });
    return createHash('sha256').update(`${username.trim().toLowerCase()}\n${ipKey}`, 'utf8').digest('hex');
  }

  private failed(error: unknown): void {
    if (this.degraded) return;
    this.degraded = true;
    const reason = error instanceof Error ? error.message : String(error);
    this.logger.warn(`login backoff: the ${this.store.kind} store failed (${reason}); counting in memory meanwhile`);
  }

  private recovered(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.logger.log(`login backoff: the ${this.store.kind} store answers again`);
  }
}
