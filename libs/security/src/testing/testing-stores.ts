import { MemoryAuditEventStore } from '../audit/adapters/memory-audit-event.store.js';
import { MemoryGrantStore } from '../authz/adapters/memory-grant.store.js';
import type { Clock } from '../core/clock.js';
import { MemoryApiKeyStore } from '../keys/adapters/memory-api-key.store.js';
import { MemoryMfaFactorStore } from '../mfa/adapters/memory-mfa-factor.store.js';
import { MemoryRateLimitStore } from '../rate-limit/adapters/memory-rate-limit.store.js';
import { MemoryLoginBackoffStore } from '../sessions/adapters/memory-login-backoff.store.js';
import { MemorySessionStore } from '../sessions/adapters/memory-session.store.js';
import { MemoryNonceStore } from '../signing/adapters/memory-nonce.store.js';
import { MemorySigningKeyStore } from '../signing/adapters/memory-signing-key.store.js';
import { MemoryDeprecationUsageStore } from '../versioning/adapters/memory-deprecation-usage.store.js';
import { swappable, type Swappable } from './swappable.js';
import { TestingPrincipalStore } from './testing-principal.store.js';

/**
 * Every store of a test app, in memory, each behind a swappable proxy: the module injects the proxies, and
 * `reset()` replaces every store by an empty one at once. Stores that refer to principals get the principal
 * proxy, so they always check against the current principals.
 */
export class TestingStores {
  readonly principals: Swappable<TestingPrincipalStore> = swappable(() => new TestingPrincipalStore());
  readonly apiKeys = swappable(() => new MemoryApiKeyStore(this.principals.proxy));
  readonly grants = swappable(() => new MemoryGrantStore(this.principals.proxy));
  readonly signingKeys = swappable(() => new MemorySigningKeyStore(this.principals.proxy));
  readonly sessions = swappable(() => new MemorySessionStore(this.principals.proxy));
  readonly mfaFactors = swappable(() => new MemoryMfaFactorStore());
  readonly loginBackoff = swappable(() => new MemoryLoginBackoffStore());
  readonly deprecationUsage = swappable(() => new MemoryDeprecationUsageStore());
  readonly audit = swappable(() => new MemoryAuditEventStore());
  readonly nonces: Swappable<MemoryNonceStore>;
  readonly rateLimits: Swappable<MemoryRateLimitStore>;

  constructor(clock: Clock, { rateLimitMaxKeys }: { rateLimitMaxKeys?: number } = {}) {
    this.nonces = swappable(() => new MemoryNonceStore({ clock }));
    this.rateLimits = swappable(() => new MemoryRateLimitStore({ maxKeys: rateLimitMaxKeys }));
  }

  /** Replaces every store by an empty one; the old rate-limit and nonce stores release their timers. */
  async reset(): Promise<void> {
    const all: Swappable<object>[] = [
      this.principals,
      this.apiKeys,
      this.grants,
      this.signingKeys,
      this.sessions,
      this.mfaFactors,
      this.loginBackoff,
      this.deprecationUsage,
      this.audit,
    ];
    for (const store of all) store.swap();
    await this.nonces.swap().shutdown();
    await this.rateLimits.swap().shutdown();
  }

  /** Releases the timers of the current stores (app shutdown). */
  async close(): Promise<void> {
    await this.nonces.current.shutdown();
    await this.rateLimits.current.shutdown();
  }
}
