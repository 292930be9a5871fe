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
  RateLimitStoreErrorMode,
  RateLimitPolicyOptions,
  ResolvedRateLimitOptions,
  ResolvedRateLimitPolicy,
  CorsOptions,
  InputLimitOptions,
  HstsOptions,
  SecurityHeadersOptions,
  ResolvedSecurityHeadersOptions,
  ResolvedCorsOptions,
  LintOptions,
  ResolvedInputLimits,
  AuditOptions,
  ResolvedAuditOptions,
  RedisOptions,
  TrustProxyOption,
  NonHttpContextMode,
  DeprecationOptions,
  ResolvedDeprecationOptions,
} from './options/security-options.js';
export { resolveSecurityOptions } from './options/resolve-security-options.js';
export { SECURITY_DEFAULTS } from './options/security-defaults.js';

export {
  SecurityError,
  SecurityConfigError,
  SecurityOperationError,
  AuthenticationRequiredError,
  InvalidCredentialsError,
  PermissionDeniedError,
  InvalidInputError,
  MalformedBodyError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  RateLimitExceededError,
  SecurityStoreUnavailableError,
  ResourceNotFoundError,
  DeprecatedClosedError,
  GoneError,
  MfaRequiredError,
  MfaCodeRejectedError,
  type CredentialFailureReason,
  type InvalidParam,
  type InputViolation,
} from './core/errors.js';
export {
  parseDuration,
  parseLimit,
  parseSize,
  DURATION_PATTERN,
  LIMIT_PATTERN,
  SIZE_PATTERN,
  type Limit,
} from './core/durations.js';
export { Clock, SystemClock, ManualClock } from './core/clock.js';
export { REQUEST_ID_PATTERN } from './core/request-id.js';

export { PROBLEM_TYPES, type ProblemType } from './http/problem-types.js';
export { ProblemDetailsFilter, type ProblemBody } from './http/problem-details.filter.js';
export { requestIdOf, summarizeRequest, type HttpRequestLike, type RequestSummary } from './http/http-request.js';

export { Public } from './principals/public.decorator.js';
export { CurrentPrincipal, principalOf } from './principals/current-principal.decorator.js';
export { Authenticator } from './principals/authenticator.js';
export { AuthenticationGuard } from './principals/authentication.guard.js';
export { SecurityPipelineGuard } from './security-pipeline.guard.js';
export type { Principal, AuthMethod, PrincipalRateLimit } from './principals/principal.js';

export { SecurityEvents } from './audit/security-events.service.js';
export {
  SECURITY_EVENT_TYPES,
  type SecurityEventType,
  type SecurityEventOutcome,
  type SecurityEventInput,
  type SecurityEventRecord,
} from './audit/security-event-types.js';
export {
  AuditEventStore,
  type StoredAuditEvent,
  type AuditChainHead,
  type AuditEventFilter,
} from './audit/audit-event.store.js';
export {
  AuditWriter,
  AUDIT_SPILL_FILE,
  AUDIT_WRITER_TUNING,
  type AuditWriterStats,
  type AuditWriterTuning,
} from './audit/audit-writer.js';
export { verifyAuditChain, type AuditChainVerification, type AuditChainBreak } from './audit/core/verify-chain.js';
export { MemoryAuditEventStore } from './audit/adapters/memory-audit-event.store.js';
export { TypeOrmAuditEventStore } from './audit/adapters/typeorm-audit-event.store.js';
export { GENESIS_HASH, auditRowHash, canonicalJson } from './audit/core/audit-chain.js';
export { redactSecrets } from './audit/core/redact.js';

export { SecurityHealth, type SecurityHealthReport, type DependencyState } from './health/security-health.service.js';

export {
  SECURITY_ENTITIES,
  SECURITY_MIGRATIONS,
  PrincipalEntity,
  AuditEventEntity,
  SigningKeyEntity,
} from './persistence/index.js';
export { securityDataSourceOptions } from './persistence/data-source-options.js';
export { runMigrationsExclusively, MIGRATIONS_LOCK_KEY } from './persistence/run-migrations.js';
export {
  startEmbeddedPostgres,
  startInMemoryPostgres,
  EMBEDDED_POOL_SIZE,
  type EmbeddedPostgres,
} from './persistence/embedded-postgres.js';

export type { Actor } from './audit/actor.js';
export { RequirePermission, type PermissionRequirement } from './authz/require-permission.decorator.js';
export { PermissionGuard } from './authz/permission.guard.js';
export {
  parsePermission,
  isValidPermission,
  permissionImplies,
  hasPermission,
  hasAllPermissions,
  hasAnyPermission,
  intersectPermissions,
  effectiveKeyPermissions,
} from './authz/core/permissions.js';
export {
  API_KEY_REGEX,
  apiKeyRegex,
  generateApiKey,
  parseApiKey,
  apiKeyChecksum,
  type ParsedApiKey,
  type GeneratedApiKey,
} from './keys/core/api-key-format.js';
export { parsePepperRing, hashSecret, verifySecret, type PepperRing } from './keys/core/secret-hashing.js';
export type { ApiKeyRecord, NewApiKey } from './keys/api-key.record.js';
export {
  ApiKeyStore,
  ApiKeyIdTakenError,
  type ApiKeyListFilter,
  type ApiKeyUsage,
  type ApiKeyRotation,
} from './keys/api-key.store.js';
export { MemoryApiKeyStore } from './keys/adapters/memory-api-key.store.js';
export { TypeOrmApiKeyStore } from './keys/adapters/typeorm-api-key.store.js';
export { ApiKeys, type ApiKeyView, type CreateApiKeyInput, type IssuedApiKey } from './keys/api-keys.service.js';
export { ApiKeyVerifier, API_KEY_PEPPER_RING, type VerifiedApiKey } from './keys/api-key.verifier.js';
export { ApiKeyUsageRecorder } from './keys/api-key-usage.recorder.js';
export { ApiKeyAuthenticator } from './keys/api-key.authenticator.js';
export {
  PrincipalStore,
  UsernameTakenError,
  PrincipalIdTakenError,
  UnknownRoleError,
  UnknownPrincipalError,
  type PrincipalRecord,
  type NewPrincipal,
  type RoleRecord,
  type PrincipalAccess,
} from './principals/principal.store.js';
export { MemoryPrincipalStore } from './principals/adapters/memory-principal.store.js';
export { TypeOrmPrincipalStore } from './principals/adapters/typeorm-principal.store.js';
export { Principals, type CreatePrincipalInput, type PrincipalView } from './principals/principals.service.js';
export { PasswordHasher, PASSWORD_HASH_COST, PASSWORD_HASH_TEST_COST } from './principals/password-hasher.js';
export { checkPassword, type PasswordProblem } from './principals/password-policy.js';
export { createSecurityValidationPipe, SecurityValidationPipe } from './validation/security-validation.pipe.js';
export { BodyLimit, BODY_LIMIT } from './validation/body-limit.decorator.js';
export { BodyLimits, BodyLimitGuard } from './validation/body-limits.service.js';
export { installBodyParsing, decodeBody, type BodyParsingSettings } from './validation/body-parsing.js';
export { installHeaderLimit } from './validation/header-limit.js';
export {
  checkJsonShape,
  parseJsonWithin,
  checkValueShape,
  checkQueryString,
  FORBIDDEN_KEYS,
  type JsonShapeLimits,
  type ShapeViolation,
} from './validation/core/json-shape.js';
export { scalarFilter } from './validation/core/document-filter.js';
export {
  SafeUsername,
  HostnameOrIp,
  BoundedString,
  LowerCased,
  StrictInt,
  SanitizedHtml,
  sanitizeRichText,
  StrongPassword,
} from './validation/decorators.js';
export * from './changes/index.js';
export { ResourcePolicy, type PolicyContext } from './authz/resource-policy.js';
export { Authorize, AuthorizedResource, type AuthorizeMetadata } from './authz/authorize.decorator.js';
export { PolicyGuard } from './authz/policy.guard.js';
export { Sensitive } from './authz/sensitive.decorator.js';
export { SensitiveAccessInterceptor } from './authz/sensitive-access.interceptor.js';
export { Grants, type GrantInput } from './authz/grants.service.js';
export { restrictToAccessible } from './authz/restrict-to-accessible.js';
export {
  accessScopeToSql,
  SQL_IDENTIFIER_PATTERN,
  DEFAULT_ACCESS_PARAM_PREFIX,
  type AccessScope,
  type AccessCondition,
  type AccessScopeSql,
} from './authz/core/access-scope.js';
export {
  GrantStore,
  InvalidGrantError,
  RESOURCE_TYPE_PATTERN,
  RESOURCE_ID_PATTERN,
  GRANT_ACTION_PATTERN,
  isValidResourceType,
  isValidResourceId,
  isValidGrantAction,
  type ResourceGrant,
  type NewResourceGrant,
  type GrantField,
} from './authz/grant.store.js';
export { MemoryGrantStore } from './authz/adapters/memory-grant.store.js';
export { TypeOrmGrantStore } from './authz/adapters/typeorm-grant.store.js';
export { Audited, type AuditedMetadata } from './audit/audited.decorator.js';
export { AuditedInterceptor } from './audit/audited.interceptor.js';

export {
  SecurityMetrics,
  AUDIT_QUEUE_DEPTH,
  type AuditQueueDepth,
  type RenderedMetrics,
} from './monitoring/security-metrics.service.js';
export { AnomalyDetector, type AnomalyDetectorName } from './monitoring/anomaly-detector.service.js';
export { IpBlockGuard } from './monitoring/ip-block.guard.js';
export {
  WebhookAlertSink,
  WEBHOOK_ALERT_TUNING,
  WEBHOOK_SIGNATURE_HEADER,
  webhookSignature,
  type WebhookAlertTuning,
} from './monitoring/webhook-alert.sink.js';
export { SlidingWindowCounter, type SlidingWindowCounterOptions } from './monitoring/core/sliding-counter.js';
export type {
  AnomalyOptions,
  MetricsOptions,
  AlertOptions,
  WebhookAlertOptions,
  ResolvedAnomalyOptions,
  ResolvedWebhookAlertOptions,
} from './options/security-options.js';

export {
  RateLimitStore,
  assertValidRateLimitChecks,
  type RateLimitCheck,
  type RateLimitDecision as RateLimitStoreDecision,
} from './rate-limit/rate-limit.store.js';
export {
  MemoryRateLimitStore,
  type MemoryRateLimitStoreOptions,
} from './rate-limit/adapters/memory-rate-limit.store.js';
export {
  RedisRateLimitStore,
  RATE_LIMIT_LUA,
  type RedisRateLimitStoreOptions,
} from './rate-limit/adapters/redis-rate-limit.store.js';
export { resolveClientIp, clientIpKey, type TrustProxySetting } from './rate-limit/core/client-ip.js';
export {
  RateLimit,
  SkipRateLimit,
  type RateLimitRouteOptions,
  type RateLimitTracker,
  type RateLimitTrackerInput,
  type GlobalRateLimitPolicy,
} from './rate-limit/rate-limit.decorator.js';
export { RateLimits, RATE_LIMITER } from './rate-limit/rate-limits.service.js';
export {
  RateLimiter,
  type RateLimiterOptions,
  type RateLimiterMode,
  type RateLimiterModeChange,
  type RateLimitPolicyCheck,
  type RateLimitPolicyDecision,
  type RateLimitVerdict,
} from './rate-limit/rate-limiter.js';
export { RateLimitEventReporter, type RateLimitRefusal } from './rate-limit/rate-limit-event-reporter.js';
export { IpRateLimitGuard, PrincipalRateLimitGuard } from './rate-limit/rate-limit.guard.js';
export { buildRateLimitHeaders, type RateLimitDecision } from './rate-limit/core/rate-limit-headers.js';

export {
  detectSignatureScheme,
  parseSignedRequest,
  SignatureVerificationError,
  type SignatureScheme,
  type SignatureAlgorithm,
  type SignedRequestInput,
  type SignatureFailureReason,
  type SigningKeyMaterial,
  type ParsedSignature,
  type ParseOptions,
} from './signing/core/signed-request.js';
export { seedStringToSign, seedSignature, SEED_HEADERS } from './signing/core/seed-hmac.js';
export {
  sigv4CanonicalRequest,
  sigv4CanonicalUri,
  sigv4CanonicalQuery,
  sigv4StringToSign,
  sigv4SigningKey,
  sigv4Signature,
} from './signing/core/sigv4.js';
export { rfc9421SignatureBase, parseRfc9421Signatures, rfc9421VerifySignature } from './signing/core/rfc9421.js';
export { contentDigest, checkContentDigest } from './signing/core/content-digest.js';
export {
  signRequest,
  type SignableRequest,
  type SigningCredentials,
  type SignRequestOptions,
} from './signing/client/sign-request.js';
export {
  createSignedFetch,
  CertificatePinMismatchError,
  certificateSha256,
  type SignedFetchOptions,
  type SignedFetchInit,
  type SignedFetchResponse,
} from './signing/client/signed-fetch.js';
export {
  SigningKeys,
  ACCESS_KEY_ID_PATTERN,
  type CreateSigningKeyInput,
  type IssuedSigningKey,
  type SigningKeyView,
  type ResolvedSigningKey,
} from './signing/signing-keys.service.js';
export {
  SigningKeyStore,
  SigningKeyIdTakenError,
  type SigningKeyRecord,
  type NewSigningKey,
} from './signing/signing-key.store.js';
export { MemorySigningKeyStore } from './signing/adapters/memory-signing-key.store.js';
export { TypeOrmSigningKeyStore } from './signing/adapters/typeorm-signing-key.store.js';
export { NonceStore } from './signing/nonce.store.js';
export { MemoryNonceStore, type MemoryNonceStoreOptions } from './signing/adapters/memory-nonce.store.js';
export { RedisNonceStore, type RedisNonceStoreOptions } from './signing/adapters/redis-nonce.store.js';
export { SIGNING_MASTER_KEY_RING, loadOrCreateMasterKeyFile, resolveMasterKeyRing } from './signing/master-keys.js';
export {
  parseMasterKeys,
  generateMasterKey,
  SecretUnreadableError,
  type MasterKeyRing,
} from './signing/core/secret-box.js';
export { SignatureAuthenticator, signatureOf, type VerifiedSignature } from './signing/signature.authenticator.js';
export { Signed, SIGNED, type SignedOptions } from './signing/signed.decorator.js';
export { SignedGuard } from './signing/signed.guard.js';
export { rawBodyOf } from './signing/raw-body.js';
export { SignatureRejectedError } from './core/errors.js';
export type { SigningOptions, ResolvedSigningOptions } from './options/security-options.js';

export {
  buildSecurityHeaders,
  isSecureRequest,
  type SecurityHeader,
  type SecurityHeaderPlan,
  type SecurityHeadersOverride,
} from './headers/security-headers.js';
export { SecurityHeaders } from './headers/security-headers.decorator.js';
export { CORS_EXPOSED_HEADERS, canonicalOrigin, type CorsPolicy, type CorsDecision } from './headers/cors.js';
export {
  secureTlsOptions,
  applyServerTimeouts,
  SECURE_TLS_CIPHERS,
  TLS12_CIPHER_SUITES,
  TLS13_CIPHER_SUITES,
  SERVER_TIMEOUT_DEFAULTS,
  type SecureTlsInput,
  type SecureTlsOptions,
  type ServerTimeoutOptions,
} from './http/tls.js';
export {
  runSecurityLint,
  lintSecurityOptions,
  SECURITY_LINT_RULES,
  OWASP_API_2023,
  type SecurityLintRule,
  type SecurityLintContext,
  type SecurityLintFinding,
  type SecurityLintResult,
  type OwaspApiRisk,
} from './options/security-lint.js';
export { Deprecated, DEPRECATED } from './versioning/deprecated.decorator.js';
export { DeprecationGuard, routeTemplateOf } from './versioning/deprecation.guard.js';
export { DeprecationUsage, type DeprecatedCall } from './versioning/deprecation-usage.service.js';
export {
  DeprecationUsageStore,
  type DeprecatedCallKey,
  type DeprecatedCallCount,
} from './versioning/deprecation-usage.store.js';
export { MemoryDeprecationUsageStore } from './versioning/adapters/memory-deprecation-usage.store.js';
export { TypeOrmDeprecationUsageStore } from './versioning/adapters/typeorm-deprecation-usage.store.js';
export {
  parseDeprecation,
  phaseAt,
  warns,
  deprecationHeaders,
  structuredDate,
  imfFixdate,
  type DeprecationSpec,
  type DeprecationLifecycle,
  type DeprecationPhase,
  type PhaseAt,
} from './versioning/core/deprecation.js';
export {
  buildDeprecationReport,
  type DeprecationReport,
  type DeprecationCaller,
} from './versioning/core/deprecation-report.js';
export { Mfa, type SecondFactorProof, type MfaStatus } from './mfa/mfa.service.js';
export { MfaFactorStore, type MfaFactorRecord } from './mfa/mfa-factor.store.js';
export { MemoryMfaFactorStore } from './mfa/adapters/memory-mfa-factor.store.js';
export { TypeOrmMfaFactorStore } from './mfa/adapters/typeorm-mfa-factor.store.js';
export { RequireMfa, REQUIRE_MFA, type RequireMfaOptions, type RequireMfaRule } from './mfa/require-mfa.decorator.js';
export { RequireMfaGuard } from './mfa/require-mfa.guard.js';
export type { MfaOptions, ResolvedMfaOptions } from './mfa/mfa-options.js';
export {
  generateTotpSecret,
  otpauthUri,
  totpCode,
  verifyTotp,
  generateRecoveryCodes,
  recoveryCodeHash,
  TOTP_PERIOD_SECONDS,
} from './mfa/core/totp.js';
export { BearerTokenAuthenticator } from './oauth/bearer-token.authenticator.js';
export {
  JwtAccessTokenVerifier,
  ACCESS_TOKEN_TYP,
  type VerifiedAccessToken,
} from './oauth/jwt-access-token.verifier.js';
export { TokenIntrospector } from './oauth/token-introspector.js';
export {
  resolveOAuthOptions,
  OAUTH_ALGORITHMS,
  OAUTH_DEFAULTS,
  type OAuthOptions,
  type OAuthIntrospectionOptions,
  type OAuthAlgorithm,
  type ResolvedOAuthOptions,
  type ResolvedOAuthIntrospectionOptions,
} from './oauth/oauth-options.js';
export { scopesOf, permissionsOfScopes, tokenPermissions } from './oauth/core/token-permissions.js';
export {
  bearerCredentialOf,
  isCompactJwt,
  clientIdOf,
  mfaAtOf,
  type BearerCredential,
} from './oauth/core/bearer-token.js';
export {
  TokenRejection,
  TokenCheckUnavailableError,
  joseRejectionOf,
  type TokenRejectionReason,
  type JoseRejection,
} from './oauth/core/token-rejection.js';
export { checkIntrospection, type IntrospectionExpectations } from './oauth/core/introspection-response.js';
export {
  Sessions,
  type IssuedSession,
  type SessionView,
  type AuthenticatedSession,
  type SessionActor,
} from './sessions/sessions.service.js';
export { Logins } from './sessions/logins.service.js';
export { LoginBackoff } from './sessions/login-backoff.service.js';
export { SessionAuthenticator } from './sessions/session.authenticator.js';
export {
  SessionStore,
  SessionTokenTakenError,
  SESSION_END_REASONS,
  type SessionRecord,
  type NewSession,
  type SessionReplacement,
  type SessionCursor,
  type SessionEndReason,
} from './sessions/session.store.js';
export { MemorySessionStore } from './sessions/adapters/memory-session.store.js';
export { TypeOrmSessionStore } from './sessions/adapters/typeorm-session.store.js';
export { SessionEntity } from './sessions/session.entity.js';
export { Sessions1765000000000 } from './persistence/migrations/1765000000000-sessions.js';
export { LoginBackoffStore } from './sessions/login-backoff.store.js';
export {
  MemoryLoginBackoffStore,
  type MemoryLoginBackoffStoreOptions,
} from './sessions/adapters/memory-login-backoff.store.js';
export {
  RedisLoginBackoffStore,
  LOGIN_BACKOFF_LUA,
  type RedisLoginBackoffStoreOptions,
} from './sessions/adapters/redis-login-backoff.store.js';
export {
  resolveSessionOptions,
  SESSION_DEFAULTS,
  type SessionOptions,
  type LoginBackoffOptions,
  type ResolvedSessionOptions,
  type ResolvedLoginBackoffOptions,
} from './sessions/session-options.js';
export { generateSessionToken, isSessionToken, SESSION_TOKEN_PATTERN } from './sessions/core/session-token.js';
export {
  sessionStateAt,
  idleDeadline,
  touchIntervalMs,
  shouldTouch,
  type SessionState,
} from './sessions/core/session-expiry.js';
export {
  backoffDelayMs,
  decideLoginAttempt,
  type LoginBackoffPolicy,
  type LoginAttemptDecision,
  type LoginBackoffEntry,
} from './sessions/core/login-backoff.js';
