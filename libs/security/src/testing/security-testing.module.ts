import type { DynamicModule, Provider } from '@nestjs/common';
import { pino } from 'pino';
import { AuditEventStore } from '../audit/audit-event.store.js';
import { createSecurityLogger } from '../audit/security-logger.js';
import { SecurityEvents } from '../audit/security-events.service.js';
import { GrantStore } from '../authz/grant.store.js';
import { MemorySecurityChangeBus } from '../changes/adapters/memory-security-change.bus.js';
import { SecurityChangeBus } from '../changes/security-change.bus.js';
import { Clock, ManualClock } from '../core/clock.js';
import { ApiKeyStore } from '../keys/api-key.store.js';
import { MfaFactorStore } from '../mfa/mfa-factor.store.js';
import { AnomalyDetector } from '../monitoring/anomaly-detector.service.js';
import { resolveSecurityOptions } from '../options/resolve-security-options.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { PrincipalStore } from '../principals/principal.store.js';
import { RateLimitStore } from '../rate-limit/rate-limit.store.js';
import { ASYNC_OPTIONS_TYPE, MODULE_OPTIONS_TOKEN } from '../security.module-definition.js';
import { SecurityModule } from '../security.module.js';
import { SECURITY_LOGGER, SECURITY_OPTIONS, SECURITY_REDIS } from '../security.constants.js';
import { LoginBackoffStore } from '../sessions/login-backoff.store.js';
import { SessionStore } from '../sessions/session.store.js';
import { NonceStore } from '../signing/nonce.store.js';
import { SigningKeyStore } from '../signing/signing-key.store.js';
import { DeprecationUsageStore } from '../versioning/deprecation-usage.store.js';
import { SecurityTesting } from './security-testing.service.js';
import { swappable } from './swappable.js';
import { ANOMALY_DETECTOR_SLOT, type AnomalyDetectorSlot } from './testing.constants.js';
import { securityOptionsForTesting, testingClockStart, type SecurityTestingOptions } from './testing-options.js';
import { TestingStores } from './testing-stores.js';

// Options as the module definition hands them over: forRoot's, or what forRootAsync's factory returned.
type RawOptions = SecurityTestingOptions | undefined;

const store = (
  token: abstract new (...args: never[]) => object,
  pick: (stores: TestingStores) => object,
): Provider => ({
  provide: token,
  inject: [TestingStores],
  useFactory: pick,
});

/**
 * Added after `SecurityModule`'s own providers, so each replaces the one with the same token: the options
 * made safe for tests, the settable clock, a quiet event log, no Redis, and every store in memory whether or
 * not the application has a TypeORM DataSource.
 */
const TESTING_PROVIDERS: Provider[] = [
  {
    provide: SECURITY_OPTIONS,
    inject: [MODULE_OPTIONS_TOKEN],
    useFactory: (raw: RawOptions) => resolveSecurityOptions(securityOptionsForTesting(raw ?? {}), {}),
  },
  {
    provide: ManualClock,
    inject: [MODULE_OPTIONS_TOKEN],
    useFactory: (raw: RawOptions) => new ManualClock(testingClockStart(raw?.now)),
  },
  { provide: Clock, useExisting: ManualClock },
  {
    provide: SECURITY_LOGGER,
    inject: [MODULE_OPTIONS_TOKEN],
    useFactory: (raw: RawOptions) => (raw?.logSecurityEvents ? createSecurityLogger() : pino({ level: 'silent' })),
  },
  { provide: SECURITY_REDIS, useValue: null },
  {
    provide: TestingStores,
    inject: [SECURITY_OPTIONS, Clock],
    useFactory: (options: ResolvedSecurityOptions, clock: Clock) =>
      new TestingStores(clock, { rateLimitMaxKeys: options.rateLimit ? options.rateLimit.maxKeys : undefined }),
  },
  store(PrincipalStore, (stores) => stores.principals.proxy),
  store(ApiKeyStore, (stores) => stores.apiKeys.proxy),
  store(GrantStore, (stores) => stores.grants.proxy),
  store(SigningKeyStore, (stores) => stores.signingKeys.proxy),
  store(SessionStore, (stores) => stores.sessions.proxy),
  store(MfaFactorStore, (stores) => stores.mfaFactors.proxy),
  store(LoginBackoffStore, (stores) => stores.loginBackoff.proxy),
  store(DeprecationUsageStore, (stores) => stores.deprecationUsage.proxy),
  store(AuditEventStore, (stores) => stores.audit.proxy),
  store(NonceStore, (stores) => stores.nonces.proxy),
  store(RateLimitStore, (stores) => stores.rateLimits.proxy),
  {
    provide: SecurityChangeBus,
    useFactory: async () => {
      const bus = new MemorySecurityChangeBus({ logger: { log: () => undefined, warn: () => undefined } });
      await bus.start();
      return bus;
    },
  },
  // Its counters and IP blocks live in the service itself, so reset() swaps in a new one.
  {
    provide: ANOMALY_DETECTOR_SLOT,
    inject: [SECURITY_OPTIONS, SecurityEvents, Clock],
    useFactory: (options: ResolvedSecurityOptions, events: SecurityEvents, clock: Clock): AnomalyDetectorSlot =>
      swappable(() => new AnomalyDetector(options, events, clock)),
  },
  { provide: AnomalyDetector, inject: [ANOMALY_DETECTOR_SLOT], useFactory: (slot: AnomalyDetectorSlot) => slot.proxy },
  SecurityTesting,
];

const TESTING_EXPORTS = [ManualClock, SecurityTesting];

function withTestDoubles(definition: DynamicModule): DynamicModule {
  return {
    ...definition,
    providers: [...(definition.providers ?? []), ...TESTING_PROVIDERS],
    exports: [...(definition.exports ?? []), ...TESTING_EXPORTS],
  };
}

/**
 * A drop-in for `SecurityModule` in an application's tests: the same global guards, pipeline, filter and
 * services, with every store in memory (no Redis, no database), a settable `ManualClock`, quiet security
 * logs, `environment: 'test'`, and the `SecurityTesting` helpers. Import it instead of `SecurityModule`.
 * @example
 * const moduleRef = await Test.createTestingModule({
 *   imports: [SecurityTestingModule.forRoot({ rateLimit: { policies: { ip: '100/60s' } } })],
 *   controllers: [UsersController],
 * }).compile();
 * const security = moduleRef.get(SecurityTesting);
 */
export class SecurityTestingModule extends SecurityModule {
  /** `SecurityModule.forRoot` for tests; takes the same options (without `redis`) and those of the test doubles. */
  static override forRoot(options: SecurityTestingOptions = {}): DynamicModule {
    return withTestDoubles(super.forRoot(options));
  }

  /** `SecurityModule.forRootAsync` for tests; the factory may return `SecurityTestingOptions`. */
  static override forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    return withTestDoubles(super.forRootAsync(options));
  }
}
