import {
  Inject,
  Logger,
  Module,
  type MiddlewareConsumer,
  type NestModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, HttpAdapterHost } from '@nestjs/core';
import { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { MemoryAuditEventStore } from './audit/adapters/memory-audit-event.store.js';
import { TypeOrmAuditEventStore } from './audit/adapters/typeorm-audit-event.store.js';
import { AuditEventStore } from './audit/audit-event.store.js';
import { SecurityEvents } from './audit/security-events.service.js';
import { createSecurityLogger } from './audit/security-logger.js';
import { Clock, SystemClock } from './core/clock.js';
import { SecurityHealth } from './health/security-health.service.js';
import { ProblemDetailsFilter } from './http/problem-details.filter.js';
import { installRequestIdHook } from './http/request-id.hook.js';
import { resolveSecurityOptions } from './options/resolve-security-options.js';
import type { ResolvedSecurityOptions, SecurityModuleOptions } from './options/security-options.js';
import { AuthenticationGuard } from './principals/authentication.guard.js';
import { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN } from './security.module-definition.js';
import { SECURITY_AUTHENTICATORS, SECURITY_LOGGER, SECURITY_OPTIONS, SECURITY_REDIS } from './security.constants.js';

/**
 * Defence in depth behind one import. Registers, in pipeline order, the request-id hook, the global
 * guards (deny by default) and the one exception filter that answers RFC 9457 problems.
 * @example SecurityModule.forRoot({ apiKeys: { prefix: 'sk' } })
 */
@Module({
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
      useFactory: (options: ResolvedSecurityOptions) =>
        options.redis
          ? new Redis(options.redis.url, {
              maxRetriesPerRequest: 1,
              enableOfflineQueue: false,
              connectTimeout: 2_000,
              lazyConnect: false,
            })
          : null,
    },
    {
      provide: AuditEventStore,
      inject: [SECURITY_OPTIONS, { token: DataSource, optional: true }],
      useFactory: (options: ResolvedSecurityOptions, dataSource?: DataSource) =>
        options.audit && options.audit.database && dataSource
          ? new TypeOrmAuditEventStore(dataSource)
          : new MemoryAuditEventStore(),
    },
    // Authenticators are added here by the features that bring them (API keys, signatures, tokens).
    { provide: SECURITY_AUTHENTICATORS, useValue: [] },
    SecurityEvents,
    SecurityHealth,
    // Global guards run in the order they are provided: the pipeline order of DESIGN.md.
    { provide: APP_GUARD, useClass: AuthenticationGuard },
    { provide: APP_FILTER, useClass: ProblemDetailsFilter },
  ],
  exports: [SECURITY_OPTIONS, Clock, SECURITY_LOGGER, SECURITY_REDIS, AuditEventStore, SecurityEvents, SecurityHealth],
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
    @Inject(SECURITY_REDIS) private readonly redis: Redis | null,
  ) {
    super();
  }

  // Runs before Nest registers routes, so the hook is first on Express too.
  configure(_consumer: MiddlewareConsumer): void {
    const adapter = this.adapterHost.httpAdapter;
    if (adapter) installRequestIdHook(adapter, this.options.requestId ? this.options.requestId.trustInbound : false);
  }

  onApplicationBootstrap(): void {
    const redis = this.options.redis ? `redis (${redactUrl(this.options.redis.url)})` : 'in-memory (per instance)';
    this.logger.log(`environment: ${this.options.environment}`);
    this.logger.log(`audit trail: ${this.options.audit ? this.auditStore.kind : 'off'}`);
    this.logger.log(`shared state (rate limits, nonces, revocation broadcasts): ${redis}`);
    for (const warning of this.options.warnings) this.logger.warn(warning);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.redis) await this.redis.quit().catch(() => this.redis?.disconnect());
  }
}

function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
