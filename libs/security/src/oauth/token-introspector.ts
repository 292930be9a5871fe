import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../core/clock.js';
import { checkIntrospection } from './core/introspection-response.js';
import { TokenCheckUnavailableError } from './core/token-rejection.js';
import type { ResolvedOAuthIntrospectionOptions, ResolvedOAuthOptions } from './oauth-options.js';

const CACHE_MAX = 10_000;

interface CachedAnswer {
  readonly claims: Readonly<Record<string, unknown>>;
  /** Milliseconds since the epoch, by the injected clock. */
  readonly expiresAtMs: number;
}

/**
 * RFC 7662 token introspection for opaque access tokens: POSTs the token (form-encoded, with
 * `token_type_hint=access_token`) to the authorization server with this API's client credentials in HTTP
 * Basic (RFC 6749 section 2.3.1), and checks the answer. Active answers are cached by a SHA-256 of the
 * token, at most `cacheMaxAge` and never past the token's `exp`; refusals are not cached (an attacker's
 * guesses must not evict real entries, and a token can become active only once). Redirects are not followed.
 */
export class TokenIntrospector {
  private readonly cache: LRUCache<string, CachedAnswer>;
  private readonly authorization: string;

  constructor(
    private readonly options: ResolvedOAuthOptions,
    private readonly introspection: ResolvedOAuthIntrospectionOptions,
    private readonly clock: Clock,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.cache = new LRUCache({ max: CACHE_MAX });
    const credentials = `${formEncode(introspection.clientId)}:${formEncode(introspection.clientSecret)}`;
    this.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
  }

  /** The token's claims, or throws `TokenRejection` (inactive or refused) or `TokenCheckUnavailableError`. */
  async introspect(token: string): Promise<Readonly<Record<string, unknown>>> {
    const key = createHash('sha256').update(token).digest('base64url');
    const cached = this.cache.get(key);
    if (cached && cached.expiresAtMs > this.clock.now()) return cached.claims;
    if (cached) this.cache.delete(key);
    const answer = await this.ask(token);
    const now = this.clock.now();
    const claims = checkIntrospection(answer, {
      issuer: this.options.issuer,
      audience: this.options.audience,
      clockToleranceMs: this.options.clockToleranceMs,
      nowMs: now,
    });
    const untilExp = typeof claims.exp === 'number' ? claims.exp * 1000 - now : Infinity;
    const ttl = Math.min(this.introspection.cacheMaxAgeMs, untilExp);
    if (ttl > 0) this.cache.set(key, { claims, expiresAtMs: now + ttl });
    return claims;
  }

  private async ask(token: string): Promise<unknown> {
    let response: Response;
    try {
      response = await this.fetchImpl(this.introspection.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(this.introspection.timeoutMs),
        headers: {
          authorization: this.authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      });
    } catch (error) {
      throw new TokenCheckUnavailableError('introspection', { cause: error });
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      throw new TokenCheckUnavailableError('introspection', {
        cause: new Error(`introspection answered HTTP ${response.status}`),
      });
    }
    try {
      return await response.json();
    } catch (error) {
      throw new TokenCheckUnavailableError('introspection', { cause: error });
    }
  }
}

// RFC 6749 section 2.3.1: client id and secret are form-encoded before they are joined for Basic.
function formEncode(text: string): string {
  return new URLSearchParams({ v: text }).toString().slice(2);
}
