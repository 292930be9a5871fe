/** Injection token of the resolved, frozen options (`ResolvedSecurityOptions`). */
export const SECURITY_OPTIONS = Symbol.for('nest-api-security.options');
/** Injection token of the pino logger that writes security events as JSON lines. */
export const SECURITY_LOGGER = Symbol.for('nest-api-security.logger');
/** Injection token of the shared ioredis client, or `null` when no Redis is configured. */
export const SECURITY_REDIS = Symbol.for('nest-api-security.redis');
/** Injection token of the ordered list of authenticators the guard tries. */
export const SECURITY_AUTHENTICATORS = Symbol.for('nest-api-security.authenticators');
/** Injection token of the precomputed security headers (`SecurityHeaderPlan`), or `null` when `headers: false`. */
export const SECURITY_HEADER_PLAN = Symbol.for('nest-api-security.headerPlan');
