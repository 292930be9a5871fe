import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import {
  SECURITY_ENTITIES,
  SECURITY_MIGRATIONS,
  SecurityModule,
  runMigrationsExclusively,
  securityDataSourceOptions,
} from '@app/security';
import { signingOptionsOf, type DemoConfig } from './config/demo-config.js';
import { AdminKeysController, MyKeysController } from './admin/admin-keys.controller.js';
import { AdminAuditController } from './admin/admin-audit.controller.js';
import { AdminRolesController } from './admin/admin-roles.controller.js';
import { DocumentPolicy } from './documents/document.policy.js';
import { DocumentsController } from './documents/documents.controller.js';
import { ItemsV1Controller, ItemsV2Controller } from './items/items.controller.js';
import { DEMO_ENTITIES, DEMO_MIGRATIONS } from './persistence.js';
import { LoginController } from './auth/login.controller.js';
import { HealthController } from './health/health.controller.js';
import { MeController } from './me/me.controller.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { PaymentsController } from './payments/payments.controller.js';
import { Payments } from './payments/payments.service.js';
import { DemoSeeder } from './seed.js';
import { UsersController } from './users/users.controller.js';
import { BoomController } from './test-only/boom.controller.js';
import { signedEchoController } from './signed/signed-echo.controller.js';
import { PingController, PingSettings } from './tools/ping.controller.js';
import { MfaController } from './mfa/mfa.controller.js';
import { AdminSessionsController, PasswordController, SessionsController } from './sessions/sessions.controller.js';

/** Where the demo's database is, once the embedded one (if any) has started. */
export interface DemoDatabase {
  readonly url: string;
  readonly poolSize: number;
  /** The embedded PGlite: no LISTEN/NOTIFY, so changes are polled. */
  readonly embedded: boolean;
}

/** The demo API. `forRoot` takes the config so that tests can boot instances side by side. */
@Module({})
export class AppModule {
  static forRoot(config: DemoConfig, database: DemoDatabase): DynamicModule {
    const controllers: Type[] = [
      HealthController,
      MeController,
      LoginController,
      UsersController,
      AdminKeysController,
      MyKeysController,
      AdminRolesController,
      AdminAuditController,
      DocumentsController,
      ItemsV1Controller,
      ItemsV2Controller,
      MetricsController,
      PaymentsController,
      PingController,
      MfaController,
      SessionsController,
      AdminSessionsController,
      PasswordController,
      signedEchoController(config.adapter),
    ];
    if (config.nodeEnv === 'test') controllers.push(BoomController);
    return {
      module: AppModule,
      providers: [
        DemoSeeder,
        DocumentPolicy,
        Payments,
        { provide: PingSettings, useValue: new PingSettings(config.pingAllowedHosts) },
      ],
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => ({
            ...securityDataSourceOptions({ url: database.url, poolSize: database.poolSize }),
            entities: [...SECURITY_ENTITIES, ...DEMO_ENTITIES],
            migrations: [...SECURITY_MIGRATIONS, ...DEMO_MIGRATIONS],
            // Run below, under a lock: instances started together must not race on the same migration.
            migrationsRun: false,
            // The demo keeps running (degraded) when the database drops; health answers for it.
            retryAttempts: 3,
            retryDelay: 500,
          }),
          dataSourceFactory: async (options) => {
            const dataSource = await new DataSource(options!).initialize();
            try {
              await runMigrationsExclusively(dataSource);
            } catch (error) {
              await dataSource.destroy();
              throw error;
            }
            return dataSource;
          },
        }),
        SecurityModule.forRoot({
          environment:
            config.nodeEnv === 'production' ? 'production' : config.nodeEnv === 'test' ? 'test' : 'development',
          redis: config.redisUrl ?? false,
          trustProxy: config.trustProxy,
          cors: { origins: config.corsOrigins, credentials: config.corsCredentials },
          lint: { allow: config.lintAllow },
          rateLimit: { policies: config.rateLimits, onStoreError: config.rateLimitOnStoreError },
          apiKeys: {
            pepper: config.apiKeyPepper,
            cacheTtl: config.apiKeyCache.ttl,
            staleIfError: config.apiKeyCache.staleIfError,
          },
          audit: { log: config.securityLog, spillDir: `${config.dataDir}/audit` },
          changes: { transport: config.changesTransport ?? (database.embedded ? 'polling' : 'auto') },
          anomalies: { failedAuthPerIp: config.anomalies.failedAuthPerIp, blockFor: config.anomalies.blockFor },
          alerts: config.alertWebhook ? { webhook: config.alertWebhook } : false,
          signing: signingOptionsOf(config),
          deprecations: { versions: config.v1Deprecation ? { '1': config.v1Deprecation } : {} },
          oauth: config.oauth ?? false,
          sessions: config.sessions,
        }),
      ],
      controllers,
    };
  }
}
