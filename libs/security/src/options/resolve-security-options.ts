import { isIP } from 'node:net';
import { SECURITY_EVENT_TYPES, type SecurityEventType } from '../audit/security-event-types.js';
import { parseLimit, parseSize, type Limit } from '../core/durations.js';
import { MONITORING_DEFAULTS } from '../monitoring/monitoring-defaults.js';
import { SECURITY_DEFAULTS } from './security-defaults.js';
import { resolveMfaOptions } from '../mfa/mfa-options.js';
import { resolveOAuthOptions } from '../oauth/oauth-options.js';
import { resolveSessionOptions } from '../sessions/session-options.js';
import { parseDeprecation, type DeprecationLifecycle, type DeprecationSpec } from '../versioning/core/deprecation.js';
import { anchoredPatternProblem, securityLintNote } from './security-lint.js';
import type {
  ResolvedSecurityOptions,
  ResolvedWebhookAlertOptions,
  SecurityEnvironment,
  SecurityModuleOptions,
  RateLimitStoreErrorMode,
  ResolvedRateLimitOptions,
  ResolvedRateLimitPolicy,
  ResolvedSigningOptions,
} from './security-options.js';
import { durationOption as duration, knownKeys, failConfig as fail } from './option-checks.js';

const FEATURE_KEYS = new Set<string>([
  'environment',
  'requestId',
  'authentication',
  'problems',
  'apiKeys',
  'rateLimit',
  'cors',
  'headers',
  'limits',
  'lint',
  'signing',
  'audit',
  'redis',
  'trustProxy',
  'changes',
  'anomalies',
  'metrics',
  'alerts',
  'deprecations',
  'mfa',
  'oauth',
  'sessions',
]);
// An API version as Nest versioning names it: `1`, `2024-01-01`, `beta`.
const VERSION_NAME = /^[A-Za-z0-9._-]{1,32}$/;
const ENVIRONMENTS: readonly SecurityEnvironment[] = ['production', 'development', 'test'];
const STORE_ERROR_MODES: readonly RateLimitStoreErrorMode[] = ['open', 'closed', 'local'];
// Route policy names: sent in RateLimit headers as sf-strings and used in counter keys.
const POLICY_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const KEY_PREFIX = /^[a-z][a-z0-9]{1,15}$/;
const QUERY_PARAM = /^[A-Za-z0-9_-]{1,64}$/;
// RFC 9110 token: method and header names.
const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

type Raw = Record<string, unknown>;

/**
 * Merges `options` over the frozen defaults, checks every value and returns deeply frozen options.
 * Pure: no I/O, no Nest. Throws `SecurityConfigError` naming the option and the fix.
 * @example resolveSecurityOptions({ rateLimit: { policies: { ip: '100/60s' } } })
 */
export function resolveSecurityOptions(
  options: SecurityModuleOptions = {},
  env: { NODE_ENV?: string } = {},
): ResolvedSecurityOptions {
  if (!isRecord(options)) fail('TYPE', '(root)', 'options must be an object');
  for (const key of Object.keys(options)) {
    if (!FEATURE_KEYS.has(key)) {
      fail('UNKNOWN_OPTION', key, `unknown option; expected one of ${[...FEATURE_KEYS].join(', ')}`);
    }
  }
  const warnings: string[] = [];
  const environment = resolveEnvironment(options.environment, env.NODE_ENV);
  const production = environment === 'production';

  const resolved: ResolvedSecurityOptions = {
    environment,
    requestId: feature(options.requestId, 'requestId', (raw) => ({
      trustInbound: bool(raw.trustInbound, 'requestId.trustInbound', SECURITY_DEFAULTS.requestId.trustInbound),
    })),
    authentication: (() => {
      const raw = section(options.authentication, 'authentication', false) ?? {};
      const mode = raw.nonHttpContexts ?? SECURITY_DEFAULTS.authentication.nonHttpContexts;
      if (mode !== 'skip' && mode !== 'deny') {
        fail('INVALID_VALUE', 'authentication.nonHttpContexts', "use 'skip' or 'deny'");
      }
      return { nonHttpContexts: mode };
    })(),
    problems: (() => {
      const raw = section(options.problems, 'problems', false) ?? {};
      const typeBaseUri = raw.typeBaseUri ?? SECURITY_DEFAULTS.problems.typeBaseUri;
      if (typeof typeBaseUri !== 'string' || !isAbsoluteUri(typeBaseUri)) {
        fail('INVALID_VALUE', 'problems.typeBaseUri', 'use an absolute URI such as https://example.com/problems/');
      }
      return { typeBaseUri };
    })(),
    apiKeys: feature(options.apiKeys, 'apiKeys', (raw) => {
      const d = SECURITY_DEFAULTS.apiKeys;
      knownKeys(raw, 'apiKeys', [
        'prefix',
        'environment',
        'queryParam',
        'defaultExpiry',
        'pepper',
        'cacheTtl',
        'staleIfError',
        'lookupTimeout',
      ]);
      const prefix = raw.prefix ?? d.prefix;
      if (typeof prefix !== 'string' || !KEY_PREFIX.test(prefix)) {
        fail(
          'INVALID_KEY_PREFIX',
          'apiKeys.prefix',
          'use 2 to 16 lower-case letters or digits starting with a letter, e.g. "sk"',
        );
      }
      const keyEnvironment = raw.environment ?? d.environment;
      if (keyEnvironment !== 'live' && keyEnvironment !== 'test') {
        fail('INVALID_VALUE', 'apiKeys.environment', "use 'live' or 'test'");
      }
      const queryParam = raw.queryParam ?? d.queryParam;
      if (queryParam !== false && (typeof queryParam !== 'string' || !QUERY_PARAM.test(queryParam))) {
        fail('INVALID_VALUE', 'apiKeys.queryParam', 'use false or a parameter name of letters, digits, _ and -');
      }
      // A query-string key is the security lint's rule api-key-in-query (refused in production, waivable).
      const expiry = raw.defaultExpiry ?? d.defaultExpiry;
      const defaultExpiryMs = expiry === false ? false : duration(expiry, 'apiKeys.defaultExpiry');
      const pepper = raw.pepper;
      if (pepper !== undefined && (typeof pepper !== 'string' || pepper.length === 0)) {
        fail('INVALID_PEPPER', 'apiKeys.pepper', 'use a secret string of at least 32 bytes or v2:<base64>,v1:<base64>');
      }
      if (pepper === undefined && production) {
        warnings.push(
          'apiKeys.pepper: not set, so key hashes are plain SHA-256; set API_KEY_PEPPER (32+ random bytes)',
        );
      }
      const cacheTtlMs = duration(raw.cacheTtl ?? d.cacheTtl, 'apiKeys.cacheTtl');
      const staleIfError = raw.staleIfError ?? d.staleIfError;
      const staleIfErrorMs = staleIfError === false ? 0 : duration(staleIfError, 'apiKeys.staleIfError');
      const lookupTimeoutMs = duration(raw.lookupTimeout ?? d.lookupTimeout, 'apiKeys.lookupTimeout');
      return {
        prefix,
        environment: keyEnvironment,
        queryParam,
        defaultExpiryMs,
        pepper,
        cacheTtlMs,
        staleIfErrorMs,
        lookupTimeoutMs,
      };
    }),
    rateLimit: feature(options.rateLimit, 'rateLimit', (raw) => resolveRateLimit(raw, options.redis, warnings)),
    limits: resolveLimits(section(options.limits, 'limits', false) ?? {}),
    signing: feature(options.signing, 'signing', (raw) => resolveSigning(raw, production, warnings)),
    cors: feature(options.cors, 'cors', (raw) => {
      const d = SECURITY_DEFAULTS.cors;
      const origins = raw.origins ?? d.origins;
      if (!Array.isArray(origins))
        fail('INVALID_VALUE', 'cors.origins', 'use an array of origins such as ["https://app.example.com"]');
      const credentials = bool(raw.credentials, 'cors.credentials', d.credentials);
      const wildcard = origins.includes('*');
      if (wildcard && origins.length > 1) {
        fail('INVALID_ORIGIN', 'cors.origins', 'use either ["*"] or a list of exact origins, not both');
      }
      if (wildcard && credentials) {
        fail(
          'PERMISSIVE_CORS',
          'cors',
          `credentials cannot be combined with origin "*"; list the exact origins instead ${securityLintNote('cors-credentials-wildcard')}`,
        );
      }
      for (const origin of origins) {
        if (origin === '*') continue;
        if (typeof origin !== 'string' || !isOrigin(origin)) {
          fail(
            'INVALID_ORIGIN',
            'cors.origins',
            `"${String(origin)}" is not an origin; use scheme://host[:port] with no path, e.g. https://app.example.com`,
          );
        }
        // A plain http origin is the security lint's rule cors-insecure-origin (refused in production, waivable).
      }
      const maxAgeMs = duration(raw.maxAge ?? d.maxAge, 'cors.maxAge', true);
      const patterns = stringList(raw.patterns ?? d.patterns, 'cors.patterns');
      for (const pattern of patterns) {
        const problem = anchoredPatternProblem(pattern);
        if (problem) {
          fail(
            'UNANCHORED_CORS_PATTERN',
            'cors.patterns',
            `"${pattern}" ${problem} ${securityLintNote('cors-unanchored-pattern')}`,
          );
        }
      }
      if (wildcard && patterns.length > 0) {
        fail('INVALID_ORIGIN', 'cors.patterns', 'patterns make no sense with origin "*"; list origins or patterns');
      }
      const methods = stringList(raw.methods ?? d.methods, 'cors.methods').map((method) => method.toUpperCase());
      for (const method of methods) {
        if (!HTTP_TOKEN.test(method)) fail('INVALID_VALUE', 'cors.methods', `"${method}" is not an HTTP method`);
      }
      const headerNames = (name: string, value: unknown) => {
        const list = stringList(value, name);
        for (const header of list) {
          if (!HTTP_TOKEN.test(header) || header === '*')
            fail('INVALID_VALUE', name, `"${header}" is not a header name`);
        }
        return list;
      };
      return {
        origins: [...origins],
        patterns,
        credentials,
        maxAgeSeconds: Math.floor(maxAgeMs / 1000),
        methods,
        allowedHeaders: headerNames('cors.allowedHeaders', raw.allowedHeaders ?? d.allowedHeaders).map((h) =>
          h.toLowerCase(),
        ),
        exposedHeaders: headerNames('cors.exposedHeaders', raw.exposedHeaders ?? d.exposedHeaders),
      };
    }),
    headers: feature(options.headers, 'headers', (raw) => resolveHeaders(raw)),
    lint: (() => {
      const raw = section(options.lint, 'lint', false) ?? {};
      return { allow: stringList(raw.allow ?? [], 'lint.allow') };
    })(),

    audit: feature(options.audit, 'audit', (raw) => {
      const d = SECURITY_DEFAULTS.audit;
      const spillDir = raw.spillDir ?? d.spillDir;
      if (spillDir !== false && (typeof spillDir !== 'string' || spillDir.trim() === '')) {
        fail('INVALID_VALUE', 'audit.spillDir', 'use false or the path of a directory, e.g. "./.data/audit"');
      }
      const queueCapacity = raw.queueCapacity ?? d.queueCapacity;
      if (typeof queueCapacity !== 'number' || !Number.isInteger(queueCapacity) || queueCapacity < 1) {
        fail('INVALID_VALUE', 'audit.queueCapacity', 'use a whole number of events of at least 1, e.g. 10000');
      }
      return {
        log: bool(raw.log, 'audit.log', d.log),
        database: bool(raw.database, 'audit.database', d.database),
        spillDir,
        queueCapacity,
        headIntervalMs: duration(raw.headInterval ?? d.headInterval, 'audit.headInterval'),
      };
    }),
    redis: resolveRedis(options.redis),
    trustProxy: resolveTrustProxy(options.trustProxy),
    changes: (() => {
      const raw = section(options.changes, 'changes', false) ?? {};
      const transport = raw.transport ?? 'auto';
      if (!['auto', 'redis', 'postgres', 'polling', 'memory'].includes(transport as string)) {
        fail('INVALID_VALUE', 'changes.transport', "use 'auto', 'redis', 'postgres', 'polling' or 'memory'");
      }
      if (transport === 'redis' && (options.redis === undefined || options.redis === false)) {
        fail('CHANGES_NEED_REDIS', 'changes.transport', "'redis' needs the redis option; set redis or use 'auto'");
      }
      const pollIntervalMs = duration(raw.pollInterval ?? '250ms', 'changes.pollInterval');
      return { transport: transport as ResolvedSecurityOptions['changes']['transport'], pollIntervalMs };
    })(),
    anomalies: feature(options.anomalies, 'anomalies', (raw) => {
      const d = MONITORING_DEFAULTS.anomalies;
      knownKeys(raw, 'anomalies', ['failedAuthPerIp', 'denialsPerPrincipal', 'blockFor']);
      const optionalLimit = (value: unknown, name: string): Limit | false =>
        value === false ? false : limit(value, `anomalies.${name}`);
      const blockFor = raw.blockFor ?? d.blockFor;
      return {
        failedAuthPerIp: optionalLimit(raw.failedAuthPerIp ?? d.failedAuthPerIp, 'failedAuthPerIp'),
        denialsPerPrincipal: optionalLimit(raw.denialsPerPrincipal ?? d.denialsPerPrincipal, 'denialsPerPrincipal'),
        blockForMs: blockFor === false ? false : duration(blockFor, 'anomalies.blockFor'),
      };
    }),
    metrics: feature(options.metrics, 'metrics', (raw) => {
      knownKeys(raw, 'metrics', ['defaultMetrics']);
      return {
        defaultMetrics: bool(raw.defaultMetrics, 'metrics.defaultMetrics', MONITORING_DEFAULTS.metrics.defaultMetrics),
      };
    }),
    // Off by default: there is no sensible default destination.
    alerts:
      options.alerts === undefined
        ? false
        : feature(options.alerts, 'alerts', (raw) => {
            knownKeys(raw, 'alerts', ['webhook']);
            return { webhook: resolveWebhook(raw.webhook, warnings) };
          }),
    deprecations: feature(options.deprecations, 'deprecations', (raw) => {
      knownKeys(raw, 'deprecations', ['versions', 'flushInterval', 'eventInterval']);
      const versions: Record<string, DeprecationLifecycle> = {};
      const rawVersions = raw.versions === undefined ? {} : raw.versions;
      if (!isRecord(rawVersions)) fail('INVALID_VALUE', 'deprecations.versions', "use { '1': { deprecatedAt, … } }");
      for (const [version, spec] of Object.entries(rawVersions)) {
        if (!VERSION_NAME.test(version)) {
          fail('INVALID_VALUE', 'deprecations.versions', `"${version}" is not a version name such as "1"`);
        }
        versions[version] = parseDeprecation(spec as DeprecationSpec, `deprecations.versions.${version}`);
      }
      return {
        versions,
        flushIntervalMs: duration(raw.flushInterval ?? '5s', 'deprecations.flushInterval'),
        eventIntervalMs: duration(raw.eventInterval ?? '1h', 'deprecations.eventInterval'),
      };
    }),
    mfa: feature(options.mfa, 'mfa', (raw) => resolveMfaOptions(raw)),
    oauth: resolveOAuthOptions(options.oauth, { production, warnings }),
    sessions: resolveSessionOptions(options.sessions, { production, warnings }),
    warnings,
  };
  if (resolved.authentication.nonHttpContexts === 'skip') {
    warnings.push(
      'authentication.nonHttpContexts: non-HTTP handlers (GraphQL, WebSocket, microservices) are not checked by the security guards',
    );
  }
  return deepFreeze(resolved);
}

function resolveEnvironment(value: unknown, nodeEnv: string | undefined): SecurityEnvironment {
  if (value === undefined) {
    if (nodeEnv === 'production' || nodeEnv === 'test') return nodeEnv;
    return 'development';
  }
  if (!ENVIRONMENTS.includes(value as SecurityEnvironment)) {
    fail('INVALID_ENVIRONMENT', 'environment', `use one of ${ENVIRONMENTS.join(', ')}`);
  }
  return value as SecurityEnvironment;
}

function resolveRedis(value: unknown): ResolvedSecurityOptions['redis'] {
  if (value === undefined || value === false) return false;
  const raw = typeof value === 'string' ? { url: value } : section(value, 'redis', false);
  const url = raw?.url;
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')) {
    fail('INVALID_REDIS_URL', 'redis.url', 'use a redis:// or rediss:// URL such as redis://127.0.0.1:6379');
  }
  const keyPrefix = raw?.keyPrefix ?? SECURITY_DEFAULTS.redisKeyPrefix;
  if (typeof keyPrefix !== 'string' || keyPrefix.length === 0 || keyPrefix.length > 64) {
    fail('INVALID_VALUE', 'redis.keyPrefix', 'use a non-empty prefix of at most 64 characters, e.g. "nas:"');
  }
  return { url: url as string, keyPrefix };
}

function resolveRateLimit(raw: Raw, redis: unknown, warnings: string[]): ResolvedRateLimitOptions {
  const d = SECURITY_DEFAULTS.rateLimit;
  knownKeys(raw, 'rateLimit', [
    'policies',
    'onStoreError',
    'store',
    'storeTimeout',
    'probeInterval',
    'ipv6Prefix',
    'maxKeys',
  ]);
  const onStoreError = storeErrorMode(raw.onStoreError ?? d.onStoreError, 'rateLimit.onStoreError');
  // An option given as undefined keeps its default (e.g. from an unset environment variable).
  const given = Object.entries(section(raw.policies, 'rateLimit.policies', false) ?? {});
  const policies: Raw = { ...d.policies, ...Object.fromEntries(given.filter(([, value]) => value !== undefined)) };
  const policy = (name: string, value: unknown): ResolvedRateLimitPolicy => {
    const option = `rateLimit.policies.${name}`;
    if (!POLICY_NAME.test(name)) {
      fail('INVALID_POLICY_NAME', option, 'use lower-case letters, digits, - and _ (at most 32), e.g. "login"');
    }
    const long = typeof value === 'string' ? { limit: value } : isRecord(value) ? value : undefined;
    if (!long) {
      fail('INVALID_LIMIT', option, `"${String(value)}" is not a limit; use count/window, e.g. "1000/60s"`);
    }
    knownKeys(long, option, ['limit', 'block', 'onStoreError']);
    const parsed = limit(long.limit, typeof value === 'string' ? option : `${option}.limit`);
    const mode =
      long.onStoreError === undefined ? onStoreError : storeErrorMode(long.onStoreError, `${option}.onStoreError`);
    if (mode === 'open')
      warnings.push(`${option}: onStoreError 'open' lets every request through while the store is down`);
    return Object.freeze({
      name,
      ...parsed,
      blockMs: long.block === undefined ? 0 : duration(long.block, `${option}.block`),
      onStoreError: mode,
    });
  };
  const named: Record<string, ResolvedRateLimitPolicy> = {};
  for (const [name, value] of Object.entries(policies)) {
    if (name === 'ip' || name === 'principal' || value === undefined) continue;
    if (value === false) fail('INVALID_LIMIT', `rateLimit.policies.${name}`, 'only ip and principal can be false');
    named[name] = policy(name, value);
  }
  const redisConfigured = redis !== undefined && redis !== false;
  const store = raw.store ?? (redisConfigured ? 'redis' : 'memory');
  if (store !== 'memory' && store !== 'redis') fail('INVALID_VALUE', 'rateLimit.store', "use 'memory' or 'redis'");
  if (store === 'redis' && !redisConfigured) {
    fail('RATE_LIMIT_NEEDS_REDIS', 'rateLimit.store', "'redis' needs the redis option; set redis or use 'memory'");
  }
  const ipv6Prefix = raw.ipv6Prefix ?? d.ipv6Prefix;
  if (typeof ipv6Prefix !== 'number' || !Number.isInteger(ipv6Prefix) || ipv6Prefix < 32 || ipv6Prefix > 128) {
    fail('INVALID_VALUE', 'rateLimit.ipv6Prefix', 'use a prefix length from 32 to 128, e.g. 64');
  }
  const maxKeys = raw.maxKeys ?? d.maxKeys;
  if (typeof maxKeys !== 'number' || !Number.isSafeInteger(maxKeys) || maxKeys < 100) {
    fail('INVALID_VALUE', 'rateLimit.maxKeys', 'use a whole number of at least 100, e.g. 100000');
  }
  const storeTimeoutMs = duration(raw.storeTimeout ?? d.storeTimeout, 'rateLimit.storeTimeout');
  const probeIntervalMs = duration(raw.probeInterval ?? d.probeInterval, 'rateLimit.probeInterval');
  return {
    ip: policies.ip === false ? false : policy('ip', policies.ip),
    principal: policies.principal === false ? false : policy('principal', policies.principal),
    named,
    onStoreError,
    store: store as 'memory' | 'redis',
    storeTimeoutMs,
    probeIntervalMs,
    ipv6Prefix,
    maxKeys,
  };
}

const SIGNATURE_SCHEMES = ['hmac-sha256', 'aws4-hmac-sha256', 'rfc9421'] as const;
const MASTER_KEYS = /^v\d{1,6}:[A-Za-z0-9+/]{43}=(,v\d{1,6}:[A-Za-z0-9+/]{43}=)*$/;
const SCOPE_PART = /^[a-z0-9-]{1,64}$/;

function resolveSigning(raw: Raw, production: boolean, warnings: string[]): ResolvedSigningOptions {
  knownKeys(raw, 'signing', [
    'masterKeys',
    'masterKeyFile',
    'maxClockSkew',
    'requireOnUnsafeMethods',
    'schemes',
    'sigv4',
  ]);
  const masterKeys = raw.masterKeys;
  if (masterKeys !== undefined && (typeof masterKeys !== 'string' || !MASTER_KEYS.test(masterKeys))) {
    fail(
      'INVALID_MASTER_KEYS',
      'signing.masterKeys',
      'use v<N>:<base64 of 32 random bytes>, comma-separated, current first, e.g. v2:…=,v1:…=',
    );
  }
  const masterKeyFile = raw.masterKeyFile ?? false;
  if (masterKeyFile !== false && (typeof masterKeyFile !== 'string' || masterKeyFile.trim() === '')) {
    fail('INVALID_VALUE', 'signing.masterKeyFile', 'use a file path, or false');
  }
  if (masterKeys === undefined && production) {
    if (masterKeyFile !== false) {
      fail(
        'GENERATED_MASTER_KEY',
        'signing.masterKeyFile',
        `a generated master key is refused in production; set signing.masterKeys (SIGNING_MASTER_KEYS) ${securityLintNote('generated-master-key')}`,
      );
    }
    warnings.push('signing.masterKeys: not set, so HMAC signing keys cannot be created or used; ed25519 keys work');
  }
  const schemes = raw.schemes ?? SIGNATURE_SCHEMES;
  if (
    !Array.isArray(schemes) ||
    schemes.length === 0 ||
    schemes.some((scheme) => !(SIGNATURE_SCHEMES as readonly unknown[]).includes(scheme))
  ) {
    fail('INVALID_VALUE', 'signing.schemes', `use a non-empty list of ${SIGNATURE_SCHEMES.join(', ')}`);
  }
  const sigv4 = section(raw.sigv4, 'signing.sigv4', false) ?? {};
  knownKeys(sigv4, 'signing.sigv4', ['region', 'service']);
  const region = sigv4.region ?? 'us-east-1';
  const service = sigv4.service ?? 'api';
  for (const [name, value] of [
    ['region', region],
    ['service', service],
  ] as const) {
    if (typeof value !== 'string' || !SCOPE_PART.test(value)) {
      fail('INVALID_VALUE', `signing.sigv4.${name}`, 'use lower-case letters, digits and -, e.g. us-east-1');
    }
  }
  const maxClockSkewMs = duration(raw.maxClockSkew ?? '300s', 'signing.maxClockSkew');
  if (maxClockSkewMs > 900_000) {
    fail('INVALID_VALUE', 'signing.maxClockSkew', 'at most 15m: a longer window keeps captured requests replayable');
  }
  return {
    masterKeys: masterKeys as string | undefined,
    masterKeyFile: masterKeyFile as string | false,
    maxClockSkewMs,
    requireOnUnsafeMethods: bool(raw.requireOnUnsafeMethods, 'signing.requireOnUnsafeMethods', false),
    schemes: [...(schemes as ResolvedSigningOptions['schemes'])],
    sigv4: { region: region as string, service: service as string },
  };
}

function storeErrorMode(value: unknown, option: string): RateLimitStoreErrorMode {
  if (!STORE_ERROR_MODES.includes(value as RateLimitStoreErrorMode)) {
    fail('INVALID_STORE_ERROR_MODE', option, `use one of ${STORE_ERROR_MODES.join(', ')}`);
  }
  return value as RateLimitStoreErrorMode;
}

function resolveTrustProxy(value: unknown): ResolvedSecurityOptions['trustProxy'] {
  if (value === undefined || value === false) return false;
  if (value === true) {
    fail(
      'PERMISSIVE_TRUST_PROXY',
      'trustProxy',
      `true would let any client choose its IP with X-Forwarded-For; give a hop count or the proxy addresses/CIDRs ${securityLintNote('trust-proxy-permissive')}`,
    );
  }
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 1 || value > 10)
      fail('INVALID_TRUST_PROXY', 'trustProxy', 'use a hop count from 1 to 10');
    return value;
  }
  if (!Array.isArray(value) || value.length === 0) {
    fail('INVALID_TRUST_PROXY', 'trustProxy', 'use false, a hop count, or a non-empty list of addresses/CIDRs');
  }
  for (const entry of value) {
    if (typeof entry !== 'string' || !isAddressOrCidr(entry)) {
      fail('INVALID_TRUST_PROXY', 'trustProxy', `"${String(entry)}" is not an IP address or CIDR`);
    }
    if (entry.endsWith('/0'))
      fail(
        'PERMISSIVE_TRUST_PROXY',
        'trustProxy',
        `"${entry}" trusts every address; list the proxies ${securityLintNote('trust-proxy-permissive')}`,
      );
  }
  return [...value];
}

function resolveWebhook(value: unknown, warnings: string[]): ResolvedWebhookAlertOptions | false {
  if (value === undefined) return false;
  const raw = section(value, 'alerts.webhook', false);
  if (!raw) fail('TYPE', 'alerts.webhook', 'use { url, events?, secret?, timeout? }');
  knownKeys(raw, 'alerts.webhook', ['url', 'events', 'secret', 'timeout']);
  let url: URL | undefined;
  try {
    url = typeof raw.url === 'string' ? new URL(raw.url) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    fail('INVALID_WEBHOOK_URL', 'alerts.webhook.url', 'use an https:// URL such as https://hooks.example.com/security');
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    fail(
      'INSECURE_WEBHOOK_URL',
      'alerts.webhook.url',
      `"${url.origin}" uses http; use https (http is accepted on loopback addresses only)`,
    );
  }
  const events = raw.events ?? MONITORING_DEFAULTS.webhook.events;
  if (!Array.isArray(events) || events.length === 0) {
    fail(
      'INVALID_EVENT_TYPE',
      'alerts.webhook.events',
      'use a non-empty list of event types, e.g. ["SUSPICIOUS_PATTERN"]',
    );
  }
  for (const type of events) {
    if (!SECURITY_EVENT_TYPES.includes(type as SecurityEventType)) {
      fail('INVALID_EVENT_TYPE', 'alerts.webhook.events', `"${String(type)}" is not a security event type`);
    }
  }
  const secret = raw.secret;
  if (secret !== undefined && (typeof secret !== 'string' || secret.length < 16)) {
    fail('INVALID_WEBHOOK_SECRET', 'alerts.webhook.secret', 'use a random string of at least 16 characters');
  }
  if (secret === undefined) {
    warnings.push('alerts.webhook.secret: not set, so the receiver cannot check that alerts come from this service');
  }
  return {
    url: raw.url as string,
    events: [...new Set(events as SecurityEventType[])],
    secret,
    timeoutMs: duration(raw.timeout ?? MONITORING_DEFAULTS.webhook.timeout, 'alerts.webhook.timeout'),
  };
}

function resolveHeaders(raw: Raw): ResolvedSecurityOptions['headers'] {
  const d = SECURITY_DEFAULTS.headers;
  const text = (name: keyof typeof d, value: unknown): string => {
    if (typeof value !== 'string' || value.trim() === '' || /[\r\n]/.test(value)) {
      fail('INVALID_VALUE', `headers.${name}`, 'use a header value on one line');
    }
    return value;
  };
  const frameOptions = raw.frameOptions ?? d.frameOptions;
  if (frameOptions !== false && frameOptions !== 'DENY' && frameOptions !== 'SAMEORIGIN') {
    fail('INVALID_VALUE', 'headers.frameOptions', "use 'DENY', 'SAMEORIGIN' or false");
  }
  const cacheControl = raw.cacheControl ?? d.cacheControl;
  const hstsRaw = raw.hsts ?? d.hsts;
  let hsts: { maxAgeSeconds: number; includeSubDomains: boolean; preload: boolean } | false = false;
  if (hstsRaw !== false) {
    if (!isRecord(hstsRaw)) fail('TYPE', 'headers.hsts', 'use { maxAge, includeSubDomains, preload } or false');
    const maxAgeSeconds = Math.floor(duration(hstsRaw.maxAge ?? d.hsts.maxAge, 'headers.hsts.maxAge', true) / 1000);
    const includeSubDomains = bool(
      hstsRaw.includeSubDomains,
      'headers.hsts.includeSubDomains',
      d.hsts.includeSubDomains,
    );
    const preload = bool(hstsRaw.preload, 'headers.hsts.preload', d.hsts.preload);
    if (preload && (!includeSubDomains || maxAgeSeconds < 31_536_000)) {
      fail('INVALID_VALUE', 'headers.hsts.preload', 'preload needs includeSubDomains and a maxAge of at least 365d');
    }
    hsts = { maxAgeSeconds, includeSubDomains, preload };
  }
  const relaxedRaw = raw.relaxedPaths ?? d.relaxedPaths;
  if (!isRecord(relaxedRaw)) fail('TYPE', 'headers.relaxedPaths', "use { '/docs': '<policy>' }");
  const relaxedPaths: Record<string, string> = {};
  for (const [path, policy] of Object.entries(relaxedRaw)) {
    if (!/^\/[A-Za-z0-9._~/-]*$/.test(path)) {
      fail('INVALID_VALUE', 'headers.relaxedPaths', `"${path}" is not a path prefix such as "/docs"`);
    }
    relaxedPaths[path] = text('relaxedPaths', policy);
  }
  return {
    contentSecurityPolicy: text('contentSecurityPolicy', raw.contentSecurityPolicy ?? d.contentSecurityPolicy),
    frameOptions,
    referrerPolicy: text('referrerPolicy', raw.referrerPolicy ?? d.referrerPolicy),
    cacheControl: cacheControl === false ? false : text('cacheControl', cacheControl),
    hsts,
    relaxedPaths,
  };
}

// Checked at resolve time and by the lint; kept importable from here.
export { anchoredPatternProblem };

function stringList(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    fail('INVALID_VALUE', name, 'use an array of strings');
  }
  return [...(value as string[])];
}

function resolveLimits(raw: Raw): ResolvedSecurityOptions['limits'] {
  const d = SECURITY_DEFAULTS.limits;
  const body = raw.body ?? d.body;
  const bodyBytes = typeof body === 'string' ? parseSize(body) : undefined;
  if (bodyBytes === undefined) {
    fail(
      'INVALID_SIZE',
      'limits.body',
      `"${JSON.stringify(body)}" is not a size; use a number and a unit (b, kb, mb), e.g. "100kb"`,
    );
  }
  const count = (name: keyof typeof d, min: number, max: number): number => {
    const value = raw[name] ?? d[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      fail('INVALID_VALUE', `limits.${name}`, `use an integer from ${min} to ${max}`);
    }
    return value;
  };
  return {
    bodyBytes,
    jsonDepth: count('jsonDepth', 1, 1_000),
    jsonArrayLength: count('jsonArrayLength', 1, 10_000_000),
    jsonKeys: count('jsonKeys', 1, 10_000_000),
    queryParams: count('queryParams', 1, 10_000),
    // Below 1 KiB ordinary requests fail; above 64 KiB a header block is an attack surface, not a need.
    headerBytes: count('headerBytes', 1_024, 65_536),
  };
}

function feature<T>(value: unknown, name: string, build: (raw: Raw) => T): T | false {
  if (value === false) return false;
  return build(section(value, name, true) ?? {});
}

function section(value: unknown, name: string, switchable: boolean): Raw | undefined {
  if (value === undefined || value === true) return undefined;
  if (!isRecord(value)) {
    fail(
      'TYPE',
      name,
      switchable ? 'use an options object, true for the defaults, or false to switch it off' : 'use an options object',
    );
  }
  return value;
}

function bool(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail('TYPE', name, 'use true or false');
  return value;
}

function limit(value: unknown, name: string): Limit {
  const parsed = typeof value === 'string' ? parseLimit(value) : undefined;
  if (!parsed) {
    fail('INVALID_LIMIT', name, `"${String(value)}" is not a limit; use count/window, e.g. "1000/60s"`);
  }
  return parsed;
}

function isRecord(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isAbsoluteUri(text: string): boolean {
  try {
    return new URL(text).protocol.length > 1;
  } catch {
    return false;
  }
}

function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === text;
  } catch {
    return false;
  }
}

function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '[::1]') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

function isAddressOrCidr(text: string): boolean {
  const [address, bits, extra] = text.split('/');
  if (extra !== undefined || !address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
