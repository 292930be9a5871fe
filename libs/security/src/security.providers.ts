import { Logger, type Provider } from '@nestjs/common';
import type { ClientConfig } from 'pg';
import { DataSource } from 'typeorm';
import { MemoryAuditEventStore } from './audit/adapters/memory-audit-event.store.js';
import { TypeOrmAuditEventStore } from './audit/adapters/typeorm-audit-event.store.js';
import { AuditEventStore } from './audit/audit-event.store.js';
import { MemoryGrantStore } from './authz/adapters/memory-grant.store.js';
import { TypeOrmGrantStore } from './authz/adapters/typeorm-grant.store.js';
import { GrantStore } from './authz/grant.store.js';
import { MemorySecurityChangeBus } from './changes/adapters/memory-security-change.bus.js';
import { PollingSecurityChangeBus } from './changes/adapters/polling-security-change.bus.js';
import { PostgresSecurityChangeBus } from './changes/adapters/postgres-security-change.bus.js';
import { RedisSecurityChangeBus } from './changes/adapters/redis-security-change.bus.js';
import { errorMessage, SecurityChangeBus } from './changes/security-change.bus.js';
import { MemoryApiKeyStore } from './keys/adapters/memory-api-key.store.js';
import { TypeOrmApiKeyStore } from './keys/adapters/typeorm-api-key.store.js';
import { ApiKeyStore } from './keys/api-key.store.js';
import { API_KEY_PEPPER_RING } from './keys/api-key.verifier.js';
import { parsePepperRing } from './keys/core/secret-hashing.js';
import type { ResolvedSecurityOptions } from './options/security-options.js';
import { MemoryPrincipalStore } from './principals/adapters/memory-principal.store.js';
import { TypeOrmPrincipalStore } from './principals/adapters/typeorm-principal.store.js';
import { PASSWORD_HASH_COST, PASSWORD_HASH_TEST_COST, PasswordHasher } from './principals/password-hasher.js';
import { PrincipalStore } from './principals/principal.store.js';
import { MemoryRateLimitStore } from './rate-limit/adapters/memory-rate-limit.store.js';
import { RedisRateLimitStore } from './rate-limit/adapters/redis-rate-limit.store.js';
import { RateLimitStore } from './rate-limit/rate-limit.store.js';
import { SECURITY_OPTIONS, SECURITY_REDIS } from './security.constants.js';
import { Clock } from './core/clock.js';
import { MemoryNonceStore } from './signing/adapters/memory-nonce.store.js';
import { MemorySigningKeyStore } from './signing/adapters/memory-signing-key.store.js';
import { RedisNonceStore } from './signing/adapters/redis-nonce.store.js';
import { TypeOrmSigningKeyStore } from './signing/adapters/typeorm-signing-key.store.js';
import { resolveMasterKeyRing, SIGNING_MASTER_KEY_RING } from './signing/master-keys.js';
import { NonceStore } from './signing/nonce.store.js';
import { SigningKeyStore } from './signing/signing-key.store.js';
import type { Redis } from 'ioredis';
import { MemoryDeprecationUsageStore } from './versioning/adapters/memory-deprecation-usage.store.js';
import { TypeOrmDeprecationUsageStore } from './versioning/adapters/typeorm-deprecation-usage.store.js';
import { DeprecationUsageStore } from './versioning/deprecation-usage.store.js';
import { MemoryMfaFactorStore } from './mfa/adapters/memory-mfa-factor.store.js';
import { TypeOrmMfaFactorStore } from './mfa/adapters/typeorm-mfa-factor.store.js';
import { MfaFactorStore } from './mfa/mfa-factor.store.js';
import { MemorySessionStore } from './sessions/adapters/memory-session.store.js';
import { TypeOrmSessionStore } from './sessions/adapters/typeorm-session.store.js';
import { SessionStore } from './sessions/session.store.js';
import { MemoryLoginBackoffStore } from './sessions/adapters/memory-login-backoff.store.js';
import { RedisLoginBackoffStore } from './sessions/adapters/redis-login-backoff.store.js';
import { LoginBackoffStore } from './sessions/login-backoff.store.js';

const OPTIONAL_DATA_SOURCE = { token: DataSource, optional: true };
const logger = new Logger('Security');
/** How long the rate-limit store waits at boot for the module's Redis connection (its connect timeout). */
const REDIS_READY_WAIT_MS = 2_000;

/**
 * Each port gets the adapter the configuration calls for: Postgres (through the application's TypeORM
 * DataSource) when there is one, memory otherwise; Redis for broadcasts when configured.
 */
export const STORE_PROVIDERS: Provider[] = [
  {
    provide: AuditEventStore,
    inject: [SECURITY_OPTIONS, OPTIONAL_DATA_SOURCE],
    useFactory: (options: ResolvedSecurityOptions, dataSource?: DataSource) =>
      options.audit && options.audit.database && dataSource
        ? new TypeOrmAuditEventStore(dataSource)
        : new MemoryAuditEventStore(),
  },
  {
    provide: PrincipalStore,
    inject: [OPTIONAL_DATA_SOURCE],
    useFactory: (dataSource?: DataSource) =>
      dataSource ? new TypeOrmPrincipalStore(dataSource) : new MemoryPrincipalStore(),
  },
  {
    provide: ApiKeyStore,
    inject: [PrincipalStore, OPTIONAL_DATA_SOURCE],
    useFactory: (principals: PrincipalStore, dataSource?: DataSource) =>
      dataSource ? new TypeOrmApiKeyStore(dataSource) : new MemoryApiKeyStore(principals),
  },
  {
    provide: GrantStore,
    inject: [PrincipalStore, OPTIONAL_DATA_SOURCE],
    useFactory: (principals: PrincipalStore, dataSource?: DataSource) =>
      dataSource ? new TypeOrmGrantStore(dataSource) : new MemoryGrantStore(principals),
  },
  {
    provide: MfaFactorStore,
    inject: [OPTIONAL_DATA_SOURCE],
    useFactory: (dataSource?: DataSource) =>
      dataSource ? new TypeOrmMfaFactorStore(dataSource) : new MemoryMfaFactorStore(),
  },
  {
    provide: SessionStore,
    inject: [PrincipalStore, OPTIONAL_DATA_SOURCE],
    useFactory: (principals: PrincipalStore, dataSource?: DataSource) =>
      dataSource ? new TypeOrmSessionStore(dataSource) : new MemorySessionStore(principals),
  },
  // Shared through Redis when configured, so that another instance does not restart an attacker's count.
  {
    provide: LoginBackoffStore,
    inject: [SECURITY_OPTIONS, SECURITY_REDIS],
    useFactory: (options: ResolvedSecurityOptions, redis: Redis | null) =>
      options.redis && redis
        ? new RedisLoginBackoffStore(redis, { prefix: `${options.redis.keyPrefix}login-backoff:` })
        : new MemoryLoginBackoffStore(),
  },
  {
    provide: DeprecationUsageStore,
    inject: [OPTIONAL_DATA_SOURCE],
    useFactory: (dataSource?: DataSource) =>
      dataSource ? new TypeOrmDeprecationUsageStore(dataSource) : new MemoryDeprecationUsageStore(),
  },
  // Always, even with signing off, so that disabling a principal revokes its signing keys.
  {
    provide: SigningKeyStore,
    inject: [PrincipalStore, OPTIONAL_DATA_SOURCE],
    useFactory: (principals: PrincipalStore, dataSource?: DataSource) =>
      dataSource ? new TypeOrmSigningKeyStore(dataSource) : new MemorySigningKeyStore(principals),
  },
  {
    provide: SIGNING_MASTER_KEY_RING,
    inject: [SECURITY_OPTIONS],
    useFactory: (options: ResolvedSecurityOptions) =>
      resolveMasterKeyRing(options.signing, {
        production: options.environment === 'production',
        logger: { warn: (message: string) => logger.warn(message) },
      }),
  },
  {
    provide: NonceStore,
    inject: [SECURITY_OPTIONS, SECURITY_REDIS, Clock],
    useFactory: (options: ResolvedSecurityOptions, redis: Redis | null, clock: Clock) =>
      options.redis && redis
        ? new RedisNonceStore(redis, { prefix: `${options.redis.keyPrefix}nonce:`, logger: new Logger('Security') })
        : new MemoryNonceStore({ clock }),
  },
  {
    provide: API_KEY_PEPPER_RING,
    inject: [SECURITY_OPTIONS],
    useFactory: (options: ResolvedSecurityOptions) =>
      parsePepperRing(options.apiKeys ? options.apiKeys.pepper : undefined),
  },
  {
    provide: PasswordHasher,
    inject: [SECURITY_OPTIONS],
    // argon2 at full cost would make test suites slow; only an explicit test environment gets the low cost.
    useFactory: (options: ResolvedSecurityOptions) =>
      new PasswordHasher(options.environment === 'test' ? PASSWORD_HASH_TEST_COST : PASSWORD_HASH_COST),
  },
  {
    provide: RateLimitStore,
    inject: [SECURITY_OPTIONS, SECURITY_REDIS],
    useFactory: async (options: ResolvedSecurityOptions, redis: Redis | null) => {
      const rateLimit = options.rateLimit;
      if (!rateLimit || rateLimit.store !== 'redis' || !redis || !options.redis) {
        return new MemoryRateLimitStore({ maxKeys: rateLimit ? rateLimit.maxKeys : undefined });
      }
      const store = new RedisRateLimitStore(redis, {
        prefix: `${options.redis.keyPrefix}rate-limit:`,
        commandTimeoutMs: rateLimit.storeTimeoutMs,
      });
      // The module's client queues nothing while it connects (enableOfflineQueue: false), so SCRIPT LOAD
      // sent at once always failed. Wait for the connection, bounded: a Redis down at boot delays it little.
      await whenReady(redis, REDIS_READY_WAIT_MS);
      // Not fatal: consume() loads the script itself, and the limiter falls back while Redis is down.
      await store
        .init()
        .catch((error: unknown) => logger.warn(`rate-limit store not ready yet: ${errorMessage(error)}`));
      return store;
    },
  },
  {
    provide: SecurityChangeBus,
    inject: [SECURITY_OPTIONS, OPTIONAL_DATA_SOURCE],
    useFactory: async (options: ResolvedSecurityOptions, dataSource?: DataSource) => {
      const bus = createChangeBus(options, dataSource);
      // A bus whose server is down at boot keeps retrying and resyncs (drops every cache) once connected;
      // refusing to boot would turn a Redis blip into an outage.
      await bus
        .start()
        .catch((error: unknown) =>
          logger.warn(`change broadcasts (${bus.kind}) not connected yet: ${errorMessage(error)}`),
        );
      return bus;
    },
  },
];

function createChangeBus(options: ResolvedSecurityOptions, dataSource?: DataSource): SecurityChangeBus {
  const busLogger = { log: (m: string) => logger.log(m), warn: (m: string) => logger.warn(m) };
  let transport = options.changes.transport;
  if (transport === 'auto') transport = options.redis ? 'redis' : dataSource ? 'postgres' : 'memory';
  if ((transport === 'postgres' || transport === 'polling') && !dataSource) {
    throw new Error(`changes.transport '${transport}' needs a TypeORM DataSource in the application`);
  }
  switch (transport) {
    case 'redis':
      return new RedisSecurityChangeBus({
        url: (options.redis as { url: string }).url,
        keyPrefix: options.redis ? options.redis.keyPrefix : undefined,
        logger: busLogger,
      });
    case 'postgres':
      return new PostgresSecurityChangeBus({
        listenConnection: listenConnectionOf(dataSource!),
        query: (sql, params) => dataSource!.query(sql, params),
        logger: busLogger,
      });
    case 'polling':
      return new PollingSecurityChangeBus({
        query: (sql: string, params?: unknown[]) => dataSource!.query(sql, params),
        intervalMs: options.changes.pollIntervalMs,
        logger: busLogger,
      });
    default:
      return new MemorySecurityChangeBus({ logger: busLogger });
  }
}

// LISTEN needs a connection of its own, outside the pool, to the database the DataSource uses.
function listenConnectionOf(dataSource: DataSource): string | ClientConfig {
  const options = dataSource.options as {
    url?: string;
    host?: string;
    port?: number;
    username?: string;
    password?: unknown;
    database?: string;
    ssl?: unknown;
  };
  if (options.url) return options.url;
  return {
    host: options.host,
    port: options.port,
    user: options.username,
    password: typeof options.password === 'string' ? options.password : undefined,
    database: options.database,
    ssl: options.ssl as ClientConfig['ssl'],
  };
}

/** Resolves once `redis` is ready for commands, or after `timeoutMs` (never rejects). */
function whenReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready' || redis.status === 'end') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    redis.once('ready', done);
  });
}
