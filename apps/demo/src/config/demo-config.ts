import { parseDuration, type DeprecationSpec, type OAuthOptions, type SigningOptions } from '@app/security';
import type { SessionOptions } from '@app/security';
import { sessionOptionsOf } from './session-config.js';
import { isIP } from 'node:net';
import { resolve } from 'node:path';

/** The demo's settings, read once from the environment (see docs/configuration.md, Demo environment). */
export interface DemoConfig {
  readonly port: number;
  readonly host: string;
  readonly nodeEnv: string;
  readonly adapter: 'fastify' | 'express';
  /** Unset: the embedded Postgres in `dataDir` is used. */
  readonly databaseUrl?: string;
  readonly redisUrl?: string;
  readonly dataDir: string;
  readonly corsOrigins: readonly string[];
  readonly corsCredentials: boolean;
  /** Security lint rules waived on purpose (`SECURITY_LINT_ALLOW`, comma-separated rule ids). */
  readonly lintAllow: readonly string[];
  readonly trustProxy: false | number | readonly string[];
  /** `CHANGES_TRANSPORT`: how changes reach other instances (`auto` by default; `polling` when embedded). */
  readonly changesTransport?: 'auto' | 'redis' | 'postgres' | 'polling' | 'memory';
  /** `SECURITY_LOG=off` silences the security event log lines (the audit rows are still written). */
  readonly securityLog: boolean;
  /** `API_KEY_PEPPER`: secret mixed into stored key hashes. */
  readonly apiKeyPepper?: string;
  /**
   * `API_KEY_CACHE_TTL` (a duration, default `30s`): how long a verified key is served from memory before it
   * is read again. `API_KEY_STALE_IF_ERROR` (a duration, or `off`, the default): while the database does
   * not answer, how much longer a cached key is still accepted (never past its expiry) before requests
   * that need it get 503. Passed as `apiKeys.cacheTtl` and `apiKeys.staleIfError`.
   */
  readonly apiKeyCache: { readonly ttl?: string; readonly staleIfError?: string | false };
  /** `RATE_LIMIT_IP` and `RATE_LIMIT_PRINCIPAL` (a limit such as `1000/60s`, or `off`), `RATE_LIMIT_LOGIN`. */
  readonly rateLimits: { readonly ip?: string | false; readonly principal?: string | false; readonly login?: string };
  /** `RATE_LIMIT_ON_STORE_ERROR` (`local`, `open` or `closed`): what rate limits do while Redis is down; unset: `local`. */
  readonly rateLimitOnStoreError?: 'local' | 'open' | 'closed';
  /**
   * `ANOMALY_FAILED_AUTH_PER_IP` (a limit such as `20/60s`, or `off`) and `ANOMALY_BLOCK_FOR` (a duration
   * such as `15m`, or `off` to detect without blocking); unset: the library's defaults.
   */
  readonly anomalies: { readonly failedAuthPerIp?: string | false; readonly blockFor?: string | false };
  /** `ALERT_WEBHOOK_URL`: where SUSPICIOUS_PATTERN events are POSTed; `ALERT_WEBHOOK_SECRET` signs them. */
  readonly alertWebhook?: { readonly url: string; readonly secret?: string };
  /**
   * `SIGNING_MASTER_KEYS` (`v2:<base64>,v1:<base64>`, the first current): encrypt signing secrets at rest;
   * unset outside production, a key file in `dataDir` is generated. `SIGV4_REGION` (`us-east-1`) and
   * `SIGV4_SERVICE` (`demo`): the credential scope AWS Signature Version 4 requests must name.
   */
  readonly signing: {
    readonly masterKeys?: string;
    readonly sigv4: { readonly region: string; readonly service: string };
  };
  /**
   * `PING_ALLOWED_HOSTS`: the hosts `POST /tools/ping` may ping, comma-separated IP addresses or host names
   * (compared case-insensitively); unset: loopback only (`127.0.0.1,::1,localhost`).
   */
  readonly pingAllowedHosts: readonly string[];
  /** `TLS_CERT` and `TLS_KEY` (PEM file paths, both or neither): serve HTTPS (TLS 1.2 and 1.3 only). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /**
   * `HTTP_REDIRECT_PORT` (needs TLS): a plain-HTTP listener on `HOST` that only redirects to `PUBLIC_ORIGIN`
   * (`https://host[:port]`, required with it), never to the request's `Host`.
   */
  readonly httpRedirect?: { readonly port: number; readonly publicOrigin: string };
  /**
   * `HTTP_HEADERS_TIMEOUT` (`10s`), `HTTP_REQUEST_TIMEOUT` (`30s`), `HTTP_KEEP_ALIVE_TIMEOUT` (`5s`): how long a
   * client may take to send the request head, the whole request, and how long an idle connection stays open.
   * The TLS handshake gets the headers timeout too.
   */
  readonly serverTimeouts: {
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly keepAliveTimeoutMs: number;
  };
  /**
   * `SHUTDOWN_TIMEOUT` (`10s`): on SIGTERM or SIGINT, how long in-flight requests may take to finish before their
   * connections are cut; batched writes (audit events, key usage, deprecated-call counts) are flushed after that.
   */
  readonly shutdownTimeoutMs: number;
  /**
   * The lifecycle of `/v1/...` (`deprecations.versions['1']`): `V1_DEPRECATED_AT` and `V1_SUNSET_AT` (both or
   * neither), `V1_WARNING_FROM`, `V1_CLOSED_TO_NEW_CLIENTS_AT` (ISO 8601 UTC instants), `V1_BROWNOUTS`
   * (`start/end` windows, comma-separated), `V1_DEPRECATION_LINK` (default `/docs#/items`, the OpenAPI page of both versions).
   * SecurityModule checks the dates at boot. Unset: v1 is not deprecated.
   */
  readonly v1Deprecation?: DeprecationSpec;
  /**
   * OAuth 2.0 bearer tokens: `OAUTH_ISSUER`, `OAUTH_AUDIENCE` (comma-separated for several) and `OAUTH_JWKS_URL`
   * (all three or none), `OAUTH_SCOPE_MAP` (see `parseScopeMap`), `OAUTH_JWKS_COOLDOWN` (`30s`) and
   * `OAUTH_CLOCK_TOLERANCE` (`30s`). SecurityModule checks the values at boot. Unset: no bearer tokens.
   */
  readonly oauth?: OAuthOptions;
  /** Login sessions and the failed-login backoff: see `sessionOptionsOf` (`SESSION_*`, `LOGIN_BACKOFF_*`). */
  readonly sessions: SessionOptions;
}

/** Where `Link: rel="deprecation"` points for v1 unless `V1_DEPRECATION_LINK` says otherwise. */
export const V1_MIGRATION_GUIDE = '/docs#/items';

/** Thrown for an environment variable the demo cannot use; the message names the variable. */
export class DemoConfigError extends Error {}

/** Reads the demo's environment. Pure: takes the environment as an argument. */
/**
 * The `signing` options of the demo and its CLI (the same master keys in both, so a secret sealed by one
 * opens in the other): `SIGNING_MASTER_KEYS`, or for local development only a generated
 * `DATA_DIR/signing-master.key` (production refuses a generated key).
 */
export function signingOptionsOf(config: DemoConfig): SigningOptions {
  return {
    masterKeys: config.signing.masterKeys,
    masterKeyFile:
      config.signing.masterKeys === undefined && config.nodeEnv !== 'production'
        ? `${config.dataDir}/signing-master.key`
        : false,
    sigv4: config.signing.sigv4,
  };
}

export function readDemoConfig(env: NodeJS.ProcessEnv = process.env): DemoConfig {
  const adapter = env.HTTP_ADAPTER ?? 'fastify';
  if (adapter !== 'fastify' && adapter !== 'express') {
    throw new DemoConfigError(`HTTP_ADAPTER must be "fastify" or "express", not "${adapter}"`);
  }
  const port = portOf('PORT', nonEmpty(env.PORT) ?? '3000');
  const tls = tlsFiles(env.TLS_CERT, env.TLS_KEY);
  return {
    port,
    host: env.HOST ?? '127.0.0.1',
    nodeEnv: env.NODE_ENV ?? 'development',
    adapter,
    databaseUrl: nonEmpty(env.DATABASE_URL),
    redisUrl: nonEmpty(env.REDIS_URL),
    dataDir: resolve(env.DATA_DIR ?? './.data'),
    corsOrigins: list(env.CORS_ORIGINS),
    corsCredentials: env.CORS_CREDENTIALS === 'true',
    lintAllow: list(env.SECURITY_LINT_ALLOW),
    trustProxy: trustProxy(env.TRUST_PROXY),
    apiKeyPepper: nonEmpty(env.API_KEY_PEPPER),
    apiKeyCache: {
      ttl: durationText('API_KEY_CACHE_TTL', nonEmpty(env.API_KEY_CACHE_TTL)),
      staleIfError: offOrDuration('API_KEY_STALE_IF_ERROR', env.API_KEY_STALE_IF_ERROR),
    },
    securityLog: env.SECURITY_LOG !== 'off',
    changesTransport: nonEmpty(env.CHANGES_TRANSPORT) as DemoConfig['changesTransport'],
    rateLimits: {
      ip: offOr(env.RATE_LIMIT_IP),
      principal: offOr(env.RATE_LIMIT_PRINCIPAL),
      login: nonEmpty(env.RATE_LIMIT_LOGIN),
    },
    rateLimitOnStoreError: storeErrorMode(env.RATE_LIMIT_ON_STORE_ERROR),
    anomalies: {
      failedAuthPerIp: offOr(env.ANOMALY_FAILED_AUTH_PER_IP),
      blockFor: offOr(env.ANOMALY_BLOCK_FOR),
    },
    alertWebhook: nonEmpty(env.ALERT_WEBHOOK_URL)
      ? { url: nonEmpty(env.ALERT_WEBHOOK_URL)!, secret: nonEmpty(env.ALERT_WEBHOOK_SECRET) }
      : undefined,
    signing: {
      masterKeys: nonEmpty(env.SIGNING_MASTER_KEYS),
      sigv4: { region: nonEmpty(env.SIGV4_REGION) ?? 'us-east-1', service: nonEmpty(env.SIGV4_SERVICE) ?? 'demo' },
    },
    pingAllowedHosts: pingAllowedHosts(env.PING_ALLOWED_HOSTS),
    tls,
    httpRedirect: httpRedirect(env, port, tls !== undefined),
    serverTimeouts: serverTimeouts(env),
    shutdownTimeoutMs: duration('SHUTDOWN_TIMEOUT', env.SHUTDOWN_TIMEOUT, 10_000),
    v1Deprecation: v1Deprecation(env),
    oauth: oauth(env),
    sessions: sessionOptionsOf(env, (message) => {
      throw new DemoConfigError(message);
    }),
  };
}

function oauth(env: NodeJS.ProcessEnv): OAuthOptions | undefined {
  const names = ['OAUTH_ISSUER', 'OAUTH_AUDIENCE', 'OAUTH_JWKS_URL'] as const;
  const [issuer, audience, jwksUrl] = names.map((name) => nonEmpty(env[name]));
  const others = ['OAUTH_SCOPE_MAP', 'OAUTH_JWKS_COOLDOWN', 'OAUTH_CLOCK_TOLERANCE'];
  if (issuer === undefined && audience === undefined && jwksUrl === undefined) {
    const stray = others.find((name) => nonEmpty(env[name]) !== undefined);
    if (stray) throw new DemoConfigError(`${stray} needs OAUTH_ISSUER, OAUTH_AUDIENCE and OAUTH_JWKS_URL`);
    return undefined;
  }
  if (issuer === undefined || audience === undefined || jwksUrl === undefined) {
    throw new DemoConfigError(`${names.join(', ')} must be set together (or none of them, for no bearer tokens)`);
  }
  const jwksCooldown = nonEmpty(env.OAUTH_JWKS_COOLDOWN);
  const clockTolerance = nonEmpty(env.OAUTH_CLOCK_TOLERANCE);
  return {
    issuer,
    audience: list(audience),
    jwksUrl,
    scopeMap: parseScopeMap(env.OAUTH_SCOPE_MAP),
    ...(jwksCooldown ? { jwksCooldown } : {}),
    ...(clockTolerance ? { clockTolerance } : {}),
  };
}

/**
 * `OAUTH_SCOPE_MAP`: entries separated by `;`, each `scope=permission,permission` (spaces around the parts
 * are ignored; `scope=` maps the scope to nothing), e.g. `items.read=items:read;docs=documents:read,documents:write`.
 * A scope not listed that is a permission name (`items:read`) grants itself. SecurityModule checks the names.
 */
export function parseScopeMap(value: string | undefined): Record<string, string[]> {
  const map = new Map<string, string[]>();
  const fix = 'use scope=permission,permission;scope=permission, e.g. docs=documents:read,documents:write';
  for (const entry of (value ?? '').split(';')) {
    if (entry.trim() === '') continue;
    const parts = entry.split('=');
    const scope = parts[0]!.trim();
    if (parts.length !== 2 || scope === '') {
      throw new DemoConfigError(`OAUTH_SCOPE_MAP: "${entry.trim()}" is not scope=permissions; ${fix}`);
    }
    if (map.has(scope)) throw new DemoConfigError(`OAUTH_SCOPE_MAP: the scope "${scope}" is listed twice`);
    map.set(scope, list(parts[1]));
  }
  return Object.fromEntries(map);
}

function v1Deprecation(env: NodeJS.ProcessEnv): DeprecationSpec | undefined {
  const deprecatedAt = nonEmpty(env.V1_DEPRECATED_AT);
  const sunsetAt = nonEmpty(env.V1_SUNSET_AT);
  const others = ['V1_WARNING_FROM', 'V1_CLOSED_TO_NEW_CLIENTS_AT', 'V1_BROWNOUTS', 'V1_DEPRECATION_LINK'];
  if (deprecatedAt === undefined && sunsetAt === undefined) {
    const stray = others.find((name) => nonEmpty(env[name]) !== undefined);
    if (stray) throw new DemoConfigError(`${stray} needs V1_DEPRECATED_AT and V1_SUNSET_AT`);
    return undefined;
  }
  if (deprecatedAt === undefined || sunsetAt === undefined) {
    throw new DemoConfigError('V1_DEPRECATED_AT and V1_SUNSET_AT must be set together (ISO 8601 UTC instants)');
  }
  const warningFrom = nonEmpty(env.V1_WARNING_FROM);
  const closedToNewClientsAt = nonEmpty(env.V1_CLOSED_TO_NEW_CLIENTS_AT);
  const brownouts = list(env.V1_BROWNOUTS);
  return {
    deprecatedAt,
    sunsetAt,
    link: nonEmpty(env.V1_DEPRECATION_LINK) ?? V1_MIGRATION_GUIDE,
    successor: '/v2/items',
    ...(warningFrom ? { warningFrom } : {}),
    ...(closedToNewClientsAt ? { closedToNewClientsAt } : {}),
    ...(brownouts.length > 0 ? { brownouts } : {}),
  };
}

function portOf(name: string, value: string): number {
  const port = /^\d{1,5}$/.test(value.trim()) ? Number(value) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new DemoConfigError(`${name} must be 0 to 65535`);
  return port;
}

// Both files or neither: half a TLS configuration must not quietly serve plain HTTP.
function tlsFiles(cert: string | undefined, key: string | undefined): DemoConfig['tls'] {
  const certFile = nonEmpty(cert);
  const keyFile = nonEmpty(key);
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    throw new DemoConfigError(
      'TLS_CERT and TLS_KEY must be set together (PEM file paths; `npm run dev-cert` writes a pair for development)',
    );
  }
  return { certFile: resolve(certFile), keyFile: resolve(keyFile) };
}

function httpRedirect(env: NodeJS.ProcessEnv, port: number, https: boolean): DemoConfig['httpRedirect'] {
  const text = nonEmpty(env.HTTP_REDIRECT_PORT);
  if (text === undefined) return undefined;
  const redirectPort = portOf('HTTP_REDIRECT_PORT', text);
  if (!https) {
    throw new DemoConfigError('HTTP_REDIRECT_PORT needs TLS_CERT and TLS_KEY: it redirects to the HTTPS listener');
  }
  if (redirectPort !== 0 && redirectPort === port) {
    throw new DemoConfigError('HTTP_REDIRECT_PORT must differ from PORT');
  }
  return { port: redirectPort, publicOrigin: publicOrigin(env.PUBLIC_ORIGIN) };
}

// The redirect target is configuration, never the request's Host header (which any client can set).
function publicOrigin(value: string | undefined): string {
  const text = nonEmpty(value);
  const fix =
    'PUBLIC_ORIGIN must be the https origin clients should use, e.g. https://api.example.com or https://localhost:3000';
  if (text === undefined) throw new DemoConfigError(`HTTP_REDIRECT_PORT needs PUBLIC_ORIGIN: ${fix}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new DemoConfigError(`${fix}, not "${text}"`);
  }
  if (
    url.protocol !== 'https:' ||
    url.username !== '' ||
    url.password !== '' ||
    url.search !== '' ||
    url.hash !== '' ||
    !/^https:\/\/[^/?#]+\/?$/i.test(text)
  ) {
    throw new DemoConfigError(`${fix} (scheme, host and port only), not "${text}"`);
  }
  return url.origin;
}

function serverTimeouts(env: NodeJS.ProcessEnv): DemoConfig['serverTimeouts'] {
  const timeouts = {
    headersTimeoutMs: duration('HTTP_HEADERS_TIMEOUT', env.HTTP_HEADERS_TIMEOUT, 10_000),
    requestTimeoutMs: duration('HTTP_REQUEST_TIMEOUT', env.HTTP_REQUEST_TIMEOUT, 30_000),
    keepAliveTimeoutMs: duration('HTTP_KEEP_ALIVE_TIMEOUT', env.HTTP_KEEP_ALIVE_TIMEOUT, 5_000),
  };
  if (timeouts.headersTimeoutMs > timeouts.requestTimeoutMs) {
    throw new DemoConfigError('HTTP_HEADERS_TIMEOUT must not be longer than HTTP_REQUEST_TIMEOUT');
  }
  return timeouts;
}

// Checked here so the error names the variable; SecurityModule takes the text as it is.
function durationText(name: string, text: string | undefined): string | undefined {
  if (text !== undefined && parseDuration(text) === undefined) {
    throw new DemoConfigError(`${name} must be a duration such as 500ms, 10s or 2m, not "${text}"`);
  }
  return text;
}

function offOrDuration(name: string, value: string | undefined): string | false | undefined {
  const text = offOr(value);
  if (text !== false && text !== undefined && parseDuration(text) === undefined) {
    throw new DemoConfigError(`${name} must be a duration such as 500ms, 10s or 2m, or off, not "${text}"`);
  }
  return text;
}

function duration(name: string, value: string | undefined, fallback: number): number {
  const text = nonEmpty(value);
  if (text === undefined) return fallback;
  const ms = parseDuration(text);
  if (ms === undefined) throw new DemoConfigError(`${name} must be a duration such as 500ms, 10s or 2m, not "${text}"`);
  return ms;
}

const DEFAULT_PING_HOSTS = Object.freeze(['127.0.0.1', '::1', 'localhost']);
// RFC 1123 labels: letters, digits and inner hyphens, 1 to 63 each, 253 in all, no trailing dot.
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

// Each entry an IP address (no IPv6 zone) or a host name, lower-cased: they are compared with request input.
function pingAllowedHosts(value: string | undefined): readonly string[] {
  if (nonEmpty(value) === undefined) return DEFAULT_PING_HOSTS;
  const hosts = list(value).map((host) => host.toLowerCase());
  for (const host of hosts) {
    if (host.includes('%') || (isIP(host) === 0 && !HOSTNAME.test(host))) {
      throw new DemoConfigError(`PING_ALLOWED_HOSTS must list IP addresses or host names, not "${host}"`);
    }
  }
  return Object.freeze(hosts);
}

// `off` (or `false`) switches a setting off; SecurityModule validates everything else.
function offOr(value: string | undefined): string | false | undefined {
  const text = nonEmpty(value);
  return text === 'off' || text === 'false' ? false : text;
}

function storeErrorMode(value: string | undefined): DemoConfig['rateLimitOnStoreError'] {
  const text = nonEmpty(value);
  if (text === undefined || text === 'local' || text === 'open' || text === 'closed') return text;
  throw new DemoConfigError(`RATE_LIMIT_ON_STORE_ERROR must be "local", "open" or "closed", not "${text}"`);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

// `TRUST_PROXY` is a hop count or a list of addresses/CIDRs; SecurityModule validates the values.
function trustProxy(value: string | undefined): DemoConfig['trustProxy'] {
  const text = nonEmpty(value);
  if (text === undefined || text === 'false') return false;
  if (/^\d+$/.test(text)) return Number(text);
  return list(text);
}
