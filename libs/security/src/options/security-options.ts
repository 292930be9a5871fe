import type { SecurityEventType } from '../audit/security-event-types.js';
import type { Limit } from '../core/durations.js';
import type { DeprecationLifecycle, DeprecationSpec } from '../versioning/core/deprecation.js';
import type { MfaOptions, ResolvedMfaOptions } from '../mfa/mfa-options.js';
import type { OAuthOptions, ResolvedOAuthOptions } from '../oauth/oauth-options.js';
import type { ResolvedSessionOptions, SessionOptions } from '../sessions/session-options.js';

/** Where the library runs. `production` turns risky settings from boot warnings into boot errors. */
export type SecurityEnvironment = 'production' | 'development' | 'test';

/** What happens on a non-HTTP execution context (GraphQL, WebSocket, microservice handler). */
export type NonHttpContextMode = 'skip' | 'deny';

/** Request ids: kept from `X-Request-Id` when safe, otherwise generated; echoed on every response. */
export interface RequestIdOptions {
  /** Keep a well-formed inbound id (default true). Turn off when clients are untrusted and ids matter. */
  readonly trustInbound?: boolean;
}

/** Authentication is always on: every route needs a principal unless marked `@Public()`. */
export interface AuthenticationOptions {
  /**
   * Non-HTTP contexts: `skip` lets them through untouched (secure them with their own guards),
   * `deny` refuses them. Default `skip`, logged at boot.
   */
  readonly nonHttpContexts?: NonHttpContextMode;
}

/** RFC 9457 problem bodies. */
export interface ProblemOptions {
  /** Absolute URI that each problem type's slug is appended to. */
  readonly typeBaseUri?: string;
}

/** API keys: `<prefix>_<environment>_<id><secret><crc>`. */
export interface ApiKeyOptions {
  /** Lower-case letters and digits, 2 to 16 characters, starting with a letter (default `sk`). */
  readonly prefix?: string;
  /** Environment written into new keys (default `live`). */
  readonly environment?: 'live' | 'test';
  /** Also accept the key in this query parameter (default off: query strings end up in logs). */
  readonly queryParam?: string | false;
  /** Default lifetime of new keys, a duration such as `90d`, or `false` for no expiry (default). */
  readonly defaultExpiry?: string | false;
  /**
   * Secret mixed into stored key hashes (HMAC-SHA256): a string of at least 32 bytes, or a ring
   * `v2:<base64>,v1:<base64>` (first is current; keys hashed with an older one are upgraded on use).
   * Without it keys are stored as plain SHA-256, which a production boot warns about.
   */
  readonly pepper?: string;
  /**
   * How long a verified key is served from memory before it is read again, a duration (default `30s`).
   * Change broadcasts drop entries sooner; never past a key's expiry.
   */
  readonly cacheTtl?: string;
  /**
   * While the database cannot answer, a cached key past `cacheTtl` is still served for this much longer,
   * a duration, then refused with 503 (default `false`: refused as soon as `cacheTtl` is over). Never past
   * the key's expiry; what this instance learns of a revocation drops the entry at once. The trade-off: a
   * revocation made elsewhere that does not reach this instance (its change subscription goes through the
   * same failed database) is honoured up to `cacheTtl + staleIfError` late instead of `cacheTtl`.
   */
  readonly staleIfError?: string | false;
  /**
   * How long a key check waits for the database to read a key it does not have cached, a duration (default
   * `2s`). Past it the check fails as if the database were down (the stale entry within `staleIfError`, else
   * 503), so a silent database (a partition) does not hold requests for the driver's own, longer timeouts.
   */
  readonly lookupTimeout?: string;
}

/** How changes (revocations, role edits) reach the other instances. */
export type ChangeTransport = 'auto' | 'redis' | 'postgres' | 'polling' | 'memory';

/** Change broadcasts: `auto` = Redis pub/sub when Redis is configured, else Postgres LISTEN/NOTIFY. */
export interface ChangesOptions {
  readonly transport?: ChangeTransport;
  /** How often `polling` reads the change table, a duration (default `250ms`). */
  readonly pollInterval?: string;
}

/**
 * What a rate-limit policy does while its shared store (Redis) does not answer: `open` lets requests
 * through unlimited, `closed` answers 503 with `Retry-After`, `local` (the default) limits each instance
 * on its own in memory until the store is back.
 */
export type RateLimitStoreErrorMode = 'open' | 'closed' | 'local';

/** One policy in its long form; the short form is the limit alone, `'1000/60s'`. */
export interface RateLimitPolicyOptions {
  /** `count/window`, e.g. `'5/300s'`. */
  readonly limit: string;
  /** Once refused, refuse the client for this long (a duration such as `'15m'`); default: no block. */
  readonly block?: string;
  /** Overrides `rateLimit.onStoreError` for this policy. */
  readonly onStoreError?: RateLimitStoreErrorMode;
}

/**
 * Rate limits per IP, per principal and per route (sliding-window counter). `ip` runs before
 * authentication, `principal` after it; any other name is a named route policy that
 * `@RateLimit('<name>')` refers to (`login` exists by default: 5/300s per IP).
 */
export interface RateLimitOptions {
  readonly policies?: {
    readonly ip?: string | RateLimitPolicyOptions | false;
    readonly principal?: string | RateLimitPolicyOptions | false;
    readonly [name: string]: string | RateLimitPolicyOptions | false | undefined;
  };
  /** Default behaviour of every policy while the store is down (default `local`). */
  readonly onStoreError?: RateLimitStoreErrorMode;
  /** `memory` (per instance) or `redis` (shared; needs the `redis` option). Default: `redis` when configured. */
  readonly store?: 'memory' | 'redis';
  /** A store call not answered within this duration counts as a failure (default `250ms`). */
  readonly storeTimeout?: string;
  /** While the store is failing, one request per this duration probes it (default `1s`). */
  readonly probeInterval?: string;
  /** IPv6 clients are counted by their network of this many bits (default 64). */
  readonly ipv6Prefix?: number;
  /** Most counters the in-memory store (and the `local` fallback) keeps, least recently used dropped (default 100 000). */
  readonly maxKeys?: number;
}

/** One rate-limit policy after parsing. */
export interface ResolvedRateLimitPolicy {
  readonly name: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly blockMs: number;
  readonly onStoreError: RateLimitStoreErrorMode;
}

/** `rateLimit` after parsing. */
export interface ResolvedRateLimitOptions {
  readonly ip: ResolvedRateLimitPolicy | false;
  readonly principal: ResolvedRateLimitPolicy | false;
  /** Named route policies, `login` included. */
  readonly named: Readonly<Record<string, ResolvedRateLimitPolicy>>;
  readonly onStoreError: RateLimitStoreErrorMode;
  readonly store: 'memory' | 'redis';
  readonly storeTimeoutMs: number;
  readonly probeIntervalMs: number;
  readonly ipv6Prefix: number;
  readonly maxKeys: number;
}

/** Request signing (`@Signed()`): the seed HMAC scheme, AWS Signature Version 4 and RFC 9421. */
export interface SigningOptions {
  /**
   * Master keys that encrypt HMAC signing secrets at rest (AES-256-GCM), `v2:<base64 32 bytes>,v1:<base64>`;
   * the first is current, the others still decrypt older secrets. Required in production for HMAC keys.
   */
  readonly masterKeys?: string;
  /**
   * Without `masterKeys`: a file holding a generated master key (created with mode 0600, with a warning).
   * Refused in production. Default `false` (then, outside production, a key for this process only).
   */
  readonly masterKeyFile?: string | false;
  /** Largest accepted distance between a signature's time and ours, a duration (default `300s`). */
  readonly maxClockSkew?: string;
  /** Require a signature on every authenticated route except GET, HEAD and OPTIONS (default `false`). */
  readonly requireOnUnsafeMethods?: boolean;
  /** Schemes accepted (default all three). */
  readonly schemes?: readonly ('hmac-sha256' | 'aws4-hmac-sha256' | 'rfc9421')[];
  /** The credential scope SigV4 signatures must name (default region `us-east-1`, service `api`). */
  readonly sigv4?: { readonly region?: string; readonly service?: string };
}

/** `signing` after parsing. */
export interface ResolvedSigningOptions {
  readonly masterKeys: string | undefined;
  readonly masterKeyFile: string | false;
  readonly maxClockSkewMs: number;
  readonly requireOnUnsafeMethods: boolean;
  readonly schemes: readonly ('hmac-sha256' | 'aws4-hmac-sha256' | 'rfc9421')[];
  readonly sigv4: { readonly region: string; readonly service: string };
}

/** CORS allow-list; origins are compared exactly, never reflected. */
export interface CorsOptions {
  /** Exact origins such as `https://app.example.com`, or `['*']` for any origin without credentials. */
  readonly origins?: readonly string[];
  /**
   * Regular expressions (source text) an origin may match instead, such as `^https://[a-z0-9-]+\\.example\\.com$`.
   * Each must be anchored (`^` first, `$` last, no `|` outside a group), or the boot fails.
   */
  readonly patterns?: readonly string[];
  /** Allow cookies and `Authorization` from the listed origins (never with `*`). */
  readonly credentials?: boolean;
  /** How long browsers may cache a preflight answer, a duration (default `10m`). */
  readonly maxAge?: string;
  /** Methods a preflight may grant (default GET, HEAD, POST, PUT, PATCH, DELETE). */
  readonly methods?: readonly string[];
  /** Request headers a preflight may grant, compared case-insensitively (default: see `SECURITY_DEFAULTS.cors`). */
  readonly allowedHeaders?: readonly string[];
  /** Response headers scripts may read, besides the default list (rate limits, deprecation, `Link`, `X-Request-Id`). */
  readonly exposedHeaders?: readonly string[];
}

/** `cors` after parsing. */
export interface ResolvedCorsOptions {
  readonly origins: readonly string[];
  readonly patterns: readonly string[];
  readonly credentials: boolean;
  readonly maxAgeSeconds: number;
  /** Upper case. */
  readonly methods: readonly string[];
  /** Lower case. */
  readonly allowedHeaders: readonly string[];
  readonly exposedHeaders: readonly string[];
}

/** HTTP Strict Transport Security, sent on HTTPS responses only. */
export interface HstsOptions {
  /** A duration (default `365d`: `max-age=31536000`). */
  readonly maxAge?: string;
  readonly includeSubDomains?: boolean;
  /** Only once the domain is ready for the preload list (default false). */
  readonly preload?: boolean;
}

/**
 * The security headers of every response, computed once at boot (helmet's header logic) and written by one
 * hook on Express and Fastify. `@SecurityHeaders()` overrides them per route or controller.
 */
export interface SecurityHeadersOptions {
  /** Default `default-src 'none'; frame-ancestors 'none'` (an API serves no documents). */
  readonly contentSecurityPolicy?: string;
  /** `X-Frame-Options` (default `DENY`), or false to leave it out. */
  readonly frameOptions?: 'DENY' | 'SAMEORIGIN' | false;
  /** Default `strict-origin-when-cross-origin`. */
  readonly referrerPolicy?: string;
  /** Default `no-store`, or false to leave caching to each route. */
  readonly cacheControl?: string | false;
  /** Default `{ maxAge: '365d', includeSubDomains: true, preload: false }`; false: no HSTS (a production boot refuses that on HTTPS). */
  readonly hsts?: HstsOptions | false;
  /**
   * Path prefixes of HTML pages (an API explorer) with their own, relaxed Content-Security-Policy
   * (default: `/docs` with a policy that lets Swagger UI run its own scripts and styles).
   */
  readonly relaxedPaths?: Readonly<Record<string, string>>;
}

/** `headers` after parsing. */
export interface ResolvedSecurityHeadersOptions {
  readonly contentSecurityPolicy: string;
  readonly frameOptions: 'DENY' | 'SAMEORIGIN' | false;
  readonly referrerPolicy: string;
  readonly cacheControl: string | false;
  readonly hsts:
    { readonly maxAgeSeconds: number; readonly includeSubDomains: boolean; readonly preload: boolean } | false;
  readonly relaxedPaths: Readonly<Record<string, string>>;
}

/** The boot-time security lint. */
export interface LintOptions {
  /** Rule ids to waive on purpose (each waiver is logged at boot). */
  readonly allow?: readonly string[];
}

/**
 * Limits on what a request may send, enforced while the request is read, before anything is built from
 * it. The library parses bodies itself on Express and Fastify (JSON is checked before `JSON.parse`).
 */
export interface InputLimitOptions {
  /** Largest body, a size such as `100kb` or `1mb` (default `100kb`); `@BodyLimit()` changes it per route. */
  readonly body?: string;
  /** Deepest nesting of objects and arrays in a JSON body (default 32). */
  readonly jsonDepth?: number;
  /** Most elements in one JSON array (default 1000). */
  readonly jsonArrayLength?: number;
  /** Most keys in one JSON object (default 1000). */
  readonly jsonKeys?: number;
  /** Most parameters in a query string (default 100). */
  readonly queryParams?: number;
  /** Largest header block (request line and headers), in bytes (default 16384, Node's own default); over it 431. */
  readonly headerBytes?: number;
}

/** `limits` after parsing. */
export interface ResolvedInputLimits {
  readonly bodyBytes: number;
  readonly jsonDepth: number;
  readonly jsonArrayLength: number;
  readonly jsonKeys: number;
  readonly queryParams: number;
  readonly headerBytes: number;
}

/** Security events: one JSON log line and one audit row each. */
export interface AuditOptions {
  /** Write the JSON log line (default true). */
  readonly log?: boolean;
  /** Write the `audit_events` row (default true; needs the TypeORM entities). */
  readonly database?: boolean;
  /**
   * Directory of `audit-spill.jsonl`, where events go while the database is unreachable and the queue
   * is full, and at shutdown; replayed in order once the database is back. Default `false`: no file,
   * events are then held in memory up to a hard cap (5 x `queueCapacity`) and dropped beyond it.
   */
  readonly spillDir?: string | false;
  /** Events held in memory waiting for the database before they spill to disk (default 10000). */
  readonly queueCapacity?: number;
  /** How often the chain head (newest seq and hash) is written to the security log, a duration (default `60s`). */
  readonly headInterval?: string;
}

/** Audit options after resolution. */
export interface ResolvedAuditOptions {
  readonly log: boolean;
  readonly database: boolean;
  readonly spillDir: string | false;
  readonly queueCapacity: number;
  readonly headIntervalMs: number;
}

/** Shared Redis connection for features that must share state across instances. */
export interface RedisOptions {
  /** `redis://` or `rediss://` URL. */
  readonly url: string;
  /** Prefix of every key this library writes (default `nas:`). */
  readonly keyPrefix?: string;
}

/**
 * Anomaly detectors fed by the security events. Limits use the `20/60s` grammar; `false` switches one
 * detector off. Blocks are per instance and by IP only: blocking a key id or a username would let anyone
 * lock a victim out.
 */
export interface AnomalyOptions {
  /** Refused credentials (a credential was presented) from one IP (default `20/60s`). */
  readonly failedAuthPerIp?: string | false;
  /** Permission denials of one principal (default `30/60s`); reported, never blocked. */
  readonly denialsPerPrincipal?: string | false;
  /** How long an IP that tripped `failedAuthPerIp` answers 429, a duration (default `15m`), or `false`. */
  readonly blockFor?: string | false;
}

/** Prometheus metrics, rendered by `SecurityMetrics.render()` from a registry of their own. */
export interface MetricsOptions {
  /** Also collect the default process metrics (CPU, memory, event loop), prefixed `nas_` (default true). */
  readonly defaultMetrics?: boolean;
}

/** A webhook that receives chosen security events as signed JSON POSTs. */
export interface WebhookAlertOptions {
  /** `https://` URL, or `http://` on a loopback address. */
  readonly url: string;
  /** The event types sent (default `['SUSPICIOUS_PATTERN']`). */
  readonly events?: readonly SecurityEventType[];
  /** HMAC-SHA256 key: each POST carries `X-Signature-256: sha256=<hex>` over the raw body. */
  readonly secret?: string;
  /** Timeout of one delivery attempt, a duration (default `5s`). */
  readonly timeout?: string;
}

/** Where alerts go besides the audit trail. */
export interface AlertOptions {
  readonly webhook?: WebhookAlertOptions;
}

/** Client addresses to trust for `X-Forwarded-For`: a hop count or a list of addresses and CIDRs. */
export type TrustProxyOption = false | number | readonly string[];

/**
 * API deprecation and sunset. `@Deprecated()` marks a route or controller; `versions` marks every route of a
 * Nest API version (`@Controller({ version: '1' })` or `@Version('1')`) that has no `@Deprecated()` of its own.
 */
export interface DeprecationOptions {
  /** Lifecycles by version, e.g. `{ '1': { deprecatedAt, sunsetAt, link, successor: '/v2/items' } }`. */
  readonly versions?: Readonly<Record<string, DeprecationSpec>>;
  /** How often counted calls are added to `deprecated_calls`, a duration (default `5s`). */
  readonly flushInterval?: string;
  /** One `DEPRECATED_CALL` event per route, principal, key and phase at most this often, per instance (default `1h`). */
  readonly eventInterval?: string;
}

/** `deprecations` after parsing. */
export interface ResolvedDeprecationOptions {
  readonly versions: Readonly<Record<string, DeprecationLifecycle>>;
  readonly flushIntervalMs: number;
  readonly eventIntervalMs: number;
}

/** What `SecurityModule.forRoot()` takes. One key per feature; `false` switches a feature off. */
export interface SecurityModuleOptions {
  readonly environment?: SecurityEnvironment;
  readonly requestId?: RequestIdOptions | false;
  readonly authentication?: AuthenticationOptions;
  readonly problems?: ProblemOptions;
  readonly apiKeys?: ApiKeyOptions | false;
  readonly rateLimit?: RateLimitOptions | false;
  readonly cors?: CorsOptions | false;
  readonly headers?: SecurityHeadersOptions | false;
  readonly limits?: InputLimitOptions;
  readonly lint?: LintOptions;
  readonly signing?: SigningOptions | false;
  readonly audit?: AuditOptions | false;
  readonly redis?: RedisOptions | string | false;
  readonly trustProxy?: TrustProxyOption;
  readonly changes?: ChangesOptions;
  readonly anomalies?: AnomalyOptions | false;
  readonly metrics?: MetricsOptions | false;
  /** Off by default. */
  readonly alerts?: AlertOptions | false;
  /** On by default (`@Deprecated()` needs nothing configured); `false` ignores every `@Deprecated()`. */
  readonly deprecations?: DeprecationOptions | false;
  /** TOTP second factors and `@RequireMfa()` step-up; on by default (needs `signing.masterKeys` to enrol). */
  readonly mfa?: MfaOptions | false;
  /** OAuth 2.0 bearer tokens (JWT access tokens, RFC 9068; introspection optional). Off by default. */
  readonly oauth?: OAuthOptions | false;
  /** Login sessions (`Authorization: Bearer sess_…`) and failed-login backoff. On by default. */
  readonly sessions?: SessionOptions | false;
}

/** `anomalies` after parsing. */
export interface ResolvedAnomalyOptions {
  readonly failedAuthPerIp: Limit | false;
  readonly denialsPerPrincipal: Limit | false;
  readonly blockForMs: number | false;
}

/** `alerts.webhook` after parsing. */
export interface ResolvedWebhookAlertOptions {
  readonly url: string;
  readonly events: readonly SecurityEventType[];
  readonly secret: string | undefined;
  readonly timeoutMs: number;
}

/** Options after defaults are merged and every value is checked and parsed. Deeply frozen. */
export interface ResolvedSecurityOptions {
  readonly environment: SecurityEnvironment;
  readonly requestId: Required<RequestIdOptions> | false;
  readonly authentication: Required<AuthenticationOptions>;
  readonly problems: Required<ProblemOptions>;
  readonly apiKeys:
    | {
        readonly prefix: string;
        readonly environment: 'live' | 'test';
        readonly queryParam: string | false;
        readonly defaultExpiryMs: number | false;
        readonly pepper: string | undefined;
        readonly cacheTtlMs: number;
        readonly lookupTimeoutMs: number;
        /** 0: off. */
        readonly staleIfErrorMs: number;
      }
    | false;
  readonly rateLimit: ResolvedRateLimitOptions | false;
  readonly cors: ResolvedCorsOptions | false;
  readonly headers: ResolvedSecurityHeadersOptions | false;
  readonly lint: { readonly allow: readonly string[] };
  readonly limits: ResolvedInputLimits;
  readonly signing: ResolvedSigningOptions | false;
  readonly audit: ResolvedAuditOptions | false;
  readonly redis: Required<RedisOptions> | false;
  readonly trustProxy: false | number | readonly string[];
  readonly changes: { readonly transport: Exclude<ChangeTransport, 'auto'> | 'auto'; readonly pollIntervalMs: number };
  readonly anomalies: ResolvedAnomalyOptions | false;
  readonly metrics: Required<MetricsOptions> | false;
  readonly alerts: { readonly webhook: ResolvedWebhookAlertOptions | false } | false;
  readonly deprecations: ResolvedDeprecationOptions | false;
  readonly mfa: ResolvedMfaOptions | false;
  readonly oauth: ResolvedOAuthOptions | false;
  readonly sessions: ResolvedSessionOptions | false;
  /** Non-fatal findings, logged at boot (fatal in production where noted). */
  readonly warnings: readonly string[];
}
