// The one public entry of nest-api-security. Everything exported here is public API.
export { SecurityModule } from './security.module.js';
export { SECURITY_OPTIONS, SECURITY_LOGGER, SECURITY_REDIS, SECURITY_AUTHENTICATORS } from './security.constants.js';

export type {
  SecurityModuleOptions,
  ResolvedSecurityOptions,
  SecurityEnvironment,
  RequestIdOptions,
  AuthenticationOptions,
  ProblemOptions,
  ApiKeyOptions,
  RateLimitOptions,
  StoreFailureMode,
  CorsOptions,
  AuditOptions,
  RedisOptions,
  TrustProxyOption,
  NonHttpContextMode,
} from './options/security-options.js';
export { resolveSecurityOptions } from './options/resolve-security-options.js';
export { SECURITY_DEFAULTS } from './options/security-defaults.js';

export {
  SecurityError,
  SecurityConfigError,
  AuthenticationRequiredError,
  InvalidCredentialsError,
  PermissionDeniedError,
  InvalidInputError,
  MalformedBodyError,
  PayloadTooLargeError,
  RateLimitExceededError,
  SecurityStoreUnavailableError,
  type CredentialFailureReason,
  type InvalidParam,
} from './core/errors.js';
export { parseDuration, parseLimit, DURATION_PATTERN, LIMIT_PATTERN, type Limit } from './core/durations.js';
export { Clock, SystemClock, ManualClock } from './core/clock.js';
export { REQUEST_ID_PATTERN } from './core/request-id.js';

export { PROBLEM_TYPES, type ProblemType } from './http/problem-types.js';
export { ProblemDetailsFilter, type ProblemBody } from './http/problem-details.filter.js';
export { requestIdOf, type HttpRequestLike, type RequestSummary } from './http/http-request.js';

export { Public } from './principals/public.decorator.js';
export { CurrentPrincipal, principalOf } from './principals/current-principal.decorator.js';
export { Authenticator } from './principals/authenticator.js';
export { AuthenticationGuard } from './principals/authentication.guard.js';
export type { Principal, AuthMethod } from './principals/principal.js';

export { SecurityEvents } from './audit/security-events.service.js';
export {
  SECURITY_EVENT_TYPES,
  type SecurityEventType,
  type SecurityEventOutcome,
  type SecurityEventInput,
  type SecurityEventRecord,
} from './audit/security-event-types.js';
export { AuditEventStore, type StoredAuditEvent } from './audit/audit-event.store.js';
export { MemoryAuditEventStore } from './audit/adapters/memory-audit-event.store.js';
export { TypeOrmAuditEventStore } from './audit/adapters/typeorm-audit-event.store.js';
export { GENESIS_HASH, auditRowHash, canonicalJson } from './audit/core/audit-chain.js';
export { redactSecrets } from './audit/core/redact.js';

export { SecurityHealth, type SecurityHealthReport, type DependencyState } from './health/security-health.service.js';

export { SECURITY_ENTITIES, SECURITY_MIGRATIONS, PrincipalEntity, AuditEventEntity } from './persistence/index.js';
export { securityDataSourceOptions } from './persistence/data-source-options.js';
export {
  startEmbeddedPostgres,
  startInMemoryPostgres,
  EMBEDDED_POOL_SIZE,
  type EmbeddedPostgres,
} from './persistence/embedded-postgres.js';
