import {
  Inject,
  Logger,
  Module,
  type MiddlewareConsumer,
  type NestModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE, DiscoveryModule, HttpAdapterHost } from '@nestjs/core';
import { Redis } from 'ioredis';
import { AuditEventStore } from './audit/audit-event.store.js';
import { AuditedInterceptor } from './audit/audited.interceptor.js';
import { GrantStore } from './authz/grant.store.js';
import { Grants } from './authz/grants.service.js';
import { PermissionGuard } from './authz/permission.guard.js';
import { PolicyGuard } from './authz/policy.guard.js';
import { SensitiveAccessInterceptor } from './authz/sensitive-access.interceptor.js';
import { SecurityChangeBus } from './changes/security-change.bus.js';
import { ApiKeyUsageRecorder } from './keys/api-key-usage.recorder.js';
import { ApiKeyAuthenticator } from './keys/api-key.authenticator.js';
import { ApiKeyStore } from './keys/api-key.store.js';
import { ApiKeyStrategy } from './keys/api-key.strategy.js';
import { ApiKeyVerifier } from './keys/api-key.verifier.js';
import { ApiKeys } from './keys/api-keys.service.js';
import { Principals } from './principals/principals.service.js';
import { PrincipalStore } from './principals/principal.store.js';
import { PasswordHasher } from './principals/password-hasher.js';
import { STORE_PROVIDERS } from './security.providers.js';
import { createSecurityValidationPipe } from './validation/security-validation.pipe.js';
import { installBodyParsing } from './validation/body-parsing.js';
import { BodyLimitGuard, BodyLimits } from './validation/body-limits.service.js';
import { installHeaderLimit } from './validation/header-limit.js';
import { buildSecurityHeaders, type SecurityHeaderPlan } from './headers/security-headers.js';
import { installSecurityHeaders } from './headers/security-headers.hook.js';
import { SecurityHeadersGuard } from './headers/security-headers.guard.js';
import { installCors } from './headers/cors.hook.js';
import { runSecurityLint } from './options/security-lint.js';
import { Server as TlsServer } from 'node:tls';
import { SecurityEvents } from './audit/security-events.service.js';
import { createSecurityLogger } from './audit/security-logger.js';
import { Clock, SystemClock } from './core/clock.js';
import { SecurityHealth } from './health/security-health.service.js';
import { ProblemDetailsFilter } from './http/problem-details.filter.js';
import { AnomalyDetector } from './monitoring/anomaly-detector.service.js';
import { IpBlockGuard } from './monitoring/ip-block.guard.js';
import { AUDIT_QUEUE_DEPTH, SecurityMetrics } from './monitoring/security-metrics.service.js';
import { WebhookAlertSink } from './monitoring/webhook-alert.sink.js';
import { installRequestIdHook } from './http/request-id.hook.js';
import { FIRST_LAYERS, moveLayersToFront } from './http/express-layers.js';
import { MemoryRateLimitStore } from './rate-limit/adapters/memory-rate-limit.store.js';
import { IpRateLimitGuard, PrincipalRateLimitGuard } from './rate-limit/rate-limit.guard.js';
import { RateLimitStore } from './rate-limit/rate-limit.store.js';
import { RateLimiter } from './rate-limit/rate-limiter.js';
import { RATE_LIMITER, RateLimits } from './rate-limit/rate-limits.service.js';
import { NonceStore } from './signing/nonce.store.js';
import { SignatureAuthenticator } from './signing/signature.authenticator.js';
import { SignedGuard } from './signing/signed.guard.js';
import { SigningKeyStore } from './signing/signing-key.store.js';
import { SigningKeys } from './signing/signing-keys.service.js';
import { DeprecationGuard } from './versioning/deprecation.guard.js';
import { BearerTokenAuthenticator } from './oauth/bearer-token.authenticator.js';
import { Mfa } from './mfa/mfa.service.js';
import { MfaFactorStore } from './mfa/mfa-factor.store.js';
import { RequireMfaGuard } from './mfa/require-mfa.guard.js';
import { LoginBackoff } from './sessions/login-backoff.service.js';
import { LoginBackoffStore } from './sessions/login-backoff.store.js';
import { Logins } from './sessions/logins.service.js';
import { SessionAuthenticator } from './sessions/session.authenticator.js';
import { SessionStore } from './sessions/session.store.js';
import { Sessions } from './sessions/sessions.service.js';
import { DeprecationUsage } from './versioning/deprecation-usage.service.js';
import { DeprecationUsageStore } from './versioning/deprecation-usage.store.js';
import { resolveSecurityOptions } from './options/resolve-security-options.js';
import type { ResolvedSecurityOptions, SecurityModuleOptions } from './options/security-options.js';
import { AuthenticationGuard } from './principals/authentication.guard.js';
import { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN } from './security.module-definition.js';
import {
  SECURITY_AUTHENTICATORS,
  SECURITY_HEADER_PLAN,
  SECURITY_LOGGER,
  SECURITY_OPTIONS,
  SECURITY_REDIS,
} from './security.constants.js';
import { SecurityPipelineGuard } from './security-pipeline.guard.js';

/**
 * Defence in depth behind one import. Registers, in pipeline order, the request-id hook, the global
 * guards (deny by default) and the one exception filter that answers RFC 9457 problems.
 * @example SecurityModule.forRoot({ apiKeys: { prefix: 'sk' } })
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: SECURITY_OPTIONS,
      inject: [MODULE_OPTIONS_TOKEN],
      useFactory: (raw: SecurityModuleOptions) => resolveSecurityOptions(raw, process.env),
    },
    { provide: Clock, useClass: SystemClock },
    { provide: SECURITY_LOGGER, useFactory: () => createSecurityLogger() },
    {
      provide: SECURITY_REDIS,
      inject: [SECURITY_OPTIONS],
      useFactory: (options: ResolvedSecurityOptions) => {
        if (!options.redis) return null;
        const redis = new Redis(options.redis.url, {
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
          connectTimeout: 2_000,
          lazyConnect: false,
        });
        // Without a listener ioredis prints every connection error; one warning per outage is enough.
        let reported = false;
        redis.on('error', (error: Error) => {
          if (!reported) new Logger('Security').warn(`Redis connection error: ${error.message}`);
          reported = true;
        });
        redis.on('ready', () => (reported = false));
        return redis;
      },
    },
    ...STORE_PROVIDERS,
    SecurityEvents,
    SecurityHealth,
    ApiKeyUsageRecorder,
    ApiKeyVerifier,
    ApiKeyStrategy,
    ApiKeyAuthenticator,
    ApiKeys,
    Principals,
    Grants,
    SigningKeys,
    {
      provide: SignatureAuthenticator,
      inject: [SECURITY_OPTIONS, SigningKeys, NonceStore, Clock],
      useFactory: (options: ResolvedSecurityOptions, keys: SigningKeys, nonces: NonceStore, clock: Clock) =>
        options.signing ? new SignatureAuthenticator(options, keys, nonces, clock) : null,
    },
    {
      provide: BearerTokenAuthenticator,
      inject: [SECURITY_OPTIONS, PrincipalStore, SecurityEvents, Clock, SecurityChangeBus],
      useFactory: (
        options: ResolvedSecurityOptions,
        principals: PrincipalStore,
        events: SecurityEvents,
        clock: Clock,
        bus: SecurityChangeBus,
      ) => (options.oauth ? new BearerTokenAuthenticator(options, principals, events, clock, bus) : null),
    },
    Sessions,
    LoginBackoff,
    Logins,
    {
      provide: SessionAuthenticator,
      inject: [SECURITY_OPTIONS, Sessions],
      useFactory: (options: ResolvedSecurityOptions, sessions: Sessions) =>
        options.sessions ? new SessionAuthenticator(sessions) : null,
    },
    // The authenticators the guard asks, in this order; later features add theirs here.
    {
      provide: SECURITY_AUTHENTICATORS,
      inject: [
        SECURITY_OPTIONS,
        ApiKeyAuthenticator,
        SignatureAuthenticator,
        BearerTokenAuthenticator,
        SessionAuthenticator,
      ],
      useFactory: (
        options: ResolvedSecurityOptions,
        apiKeys: ApiKeyAuthenticator,
        signatures: SignatureAuthenticator | null,
        bearerTokens: BearerTokenAuthenticator | null,
        sessions: SessionAuthenticator | null,
      ) => [
        ...(options.apiKeys ? [apiKeys] : []),
        ...(signatures ? [signatures] : []),
        ...(bearerTokens ? [bearerTokens] : []),
        ...(sessions ? [sessions] : []),
      ],
    },
    {
      provide: RATE_LIMITER,
      inject: [SECURITY_OPTIONS, RateLimitStore, Clock, SecurityEvents],
      useFactory: (options: ResolvedSecurityOptions, store: RateLimitStore, clock: Clock, events: SecurityEvents) =>
        options.rateLimit ? createRateLimiter(options.rateLimit, store, clock, events) : null,
    },
    RateLimits,
    BodyLimits,
    DeprecationUsage,
    Mfa,
    {
      provide: SECURITY_HEADER_PLAN,
      inject: [SECURITY_OPTIONS],
      useFactory: (options: ResolvedSecurityOptions) =>
        options.headers ? buildSecurityHeaders(options.headers) : null,
    },
    SecurityMetrics,
    AnomalyDetector,
    WebhookAlertSink,
    // The audit queue belongs to SecurityEvents; its depth is what the metrics gauge shows.
    {
      provide: AUDIT_QUEUE_DEPTH,
      inject: [SecurityEvents],
      useFactory: (events: SecurityEvents) => () => events.auditStats().queued,
    },
    // The pipeline's steps, run in the order of DESIGN.md by the one global guard.
    SecurityHeadersGuard,
    BodyLimitGuard,
    IpBlockGuard,
    IpRateLimitGuard,
    AuthenticationGuard,
    SignedGuard,
    PrincipalRateLimitGuard,
    DeprecationGuard,
    PermissionGuard,
    PolicyGuard,
    RequireMfaGuard,
    { provide: APP_GUARD, useClass: SecurityPipelineGuard },
    // Bound by @Sensitive() and @Audited() to their routes only (routes without them pay for no interceptor).
    SensitiveAccessInterceptor,
    AuditedInterceptor,
    { provide: APP_PIPE, useFactory: createSecurityValidationPipe },
    { provide: APP_FILTER, useClass: ProblemDetailsFilter },
  ],
  exports: [
    SECURITY_OPTIONS,
    Clock,
    SECURITY_LOGGER,
    SECURITY_REDIS,
    AuditEventStore,
    ApiKeyStore,
    PrincipalStore,
    GrantStore,
    Grants,
    SecurityChangeBus,
    PasswordHasher,
    SecurityEvents,
    SecurityHealth,
    ApiKeys,
    ApiKeyVerifier,
    Principals,
    SecurityMetrics,
    AnomalyDetector,
    RateLimitStore,
    RATE_LIMITER,
    SigningKeys,
    SigningKeyStore,
    NonceStore,
    DeprecationUsage,
    DeprecationUsageStore,
    Mfa,
    MfaFactorStore,
    Sessions,
    SessionStore,
    Logins,
    LoginBackoff,
    LoginBackoffStore,
  ],
})
export class SecurityModule
  extends ConfigurableModuleClass
  implements NestModule, OnApplicationBootstrap, OnApplicationShutdown
{
  private readonly logger = new Logger('Security');

  constructor(
    @Inject(SECURITY_OPTIONS) private readonly options: ResolvedSecurityOptions,
    private readonly adapterHost: HttpAdapterHost,
    private readonly auditStore: AuditEventStore,
    private readonly keyStore: ApiKeyStore,
    private readonly bus: SecurityChangeBus,
    @Inject(SECURITY_REDIS) private readonly redis: Redis | null,
    private readonly bodyLimits: BodyLimits,
    @Inject(SECURITY_HEADER_PLAN) private readonly headerPlan: SecurityHeaderPlan | null,
  ) {
    super();
  }

  // Runs at init, before Nest registers its routes; see moveLayersToFront for what was added earlier.
  configure(_consumer: MiddlewareConsumer): void {
    const adapter = this.adapterHost.httpAdapter;
    if (!adapter) return;
    const server = adapter.getHttpServer() as object | undefined;
    // Refuses to start on dangerous settings in production (warns otherwise), before anything is served.
    runSecurityLint(this.options, { https: server instanceof TlsServer }, (message) => this.logger.warn(message));
    installRequestIdHook(
      adapter,
      this.options.requestId ? this.options.requestId.trustInbound : false,
      this.options.trustProxy,
    );
    // Security headers on every response, then CORS (preflights answered here, before any guard).
    if (this.headerPlan) installSecurityHeaders(adapter, this.headerPlan, this.options.trustProxy);
    if (this.options.cors) installCors(adapter, this.options.cors);
    // The library reads every body itself, under its limits, and keeps the bytes signatures cover.
    installBodyParsing(adapter, { capBytes: this.bodyLimits.capBytes, limits: this.options.limits });
    installHeaderLimit(
      adapter.getHttpServer(),
      this.options.limits.headerBytes,
      this.options.problems.typeBaseUri,
      this.headerPlan ?? undefined,
    );
    // On Express, ahead even of what was added before init (Swagger UI, app.use() in main.ts).
    if (adapter.getType() === 'express') moveLayersToFront(adapter.getInstance(), FIRST_LAYERS);
  }

  onApplicationBootstrap(): void {
    const redis = this.options.redis ? `redis (${redactUrl(this.options.redis.url)})` : 'in-memory (per instance)';
    this.logger.log(`environment: ${this.options.environment}`);
    this.logger.log(`audit trail: ${this.options.audit ? this.auditStore.kind : 'off'}`);
    this.logger.log(`principals and API keys: ${this.keyStore.kind}; change broadcasts: ${this.bus.kind}`);
    this.logger.log(`shared state (rate limits, nonces, revocation broadcasts): ${redis}`);
    this.logger.log(`rate limits: ${this.describeRateLimits()}`);
    for (const warning of this.options.warnings) this.logger.warn(warning);
  }

  private describeRateLimits(): string {
    const rateLimit = this.options.rateLimit;
    if (!rateLimit) return 'off';
    const show = (policy: { limit: number; windowMs: number } | false): string =>
      policy ? `${policy.limit}/${policy.windowMs / 1000}s` : 'off';
    return `ip ${show(rateLimit.ip)}, principal ${show(rateLimit.principal)} (${rateLimit.store}, on store error: ${rateLimit.onStoreError})`;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.bus.stop();
    if (this.redis) {
      // QUIT waits for an answer that an unresponsive Redis never sends; shutdown must not hang on it.
      const quit = this.redis.quit().catch(() => undefined);
      const timeout = new Promise((resolve) => setTimeout(resolve, 1_000).unref());
      await Promise.race([quit, timeout]);
      this.redis.disconnect();
    }
  }
}

function createRateLimiter(
  options: Exclude<ResolvedSecurityOptions['rateLimit'], false>,
  store: RateLimitStore,
  clock: Clock,
  events: SecurityEvents,
): RateLimiter {
  const logger = new Logger('Security');
  return new RateLimiter({
    store,
    // Only a shared store can fail; the in-memory one is its own fallback.
    fallback: store.kind === 'memory' ? undefined : new MemoryRateLimitStore({ maxKeys: options.maxKeys }),
    probeIntervalMs: options.probeIntervalMs,
    now: () => clock.now(),
    onModeChange: (change) => {
      if (change.mode === 'degraded') {
        logger.warn(`rate limiting: the ${change.store} store failed (${change.reason}); per-policy fallbacks apply`);
      } else {
        logger.log(`rate limiting: the ${change.store} store answers again`);
      }
      void events.record({
        type: 'RATE_LIMIT_STORE_MODE_CHANGED',
        outcome: change.mode === 'degraded' ? 'failure' : 'success',
        details: { mode: change.mode, previous: change.previous, store: change.store, reason: change.reason },
      });
    },
  });
}

function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
