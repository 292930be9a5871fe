import { isIP } from 'node:net';
import { isValidPermission } from '../authz/core/permissions.js';
import { durationOption as duration, knownKeys, failConfig as fail } from '../options/option-checks.js';

/** The JWS algorithms an access token may be signed with: asymmetric only (never `none`, never HMAC). */
export const OAUTH_ALGORITHMS = Object.freeze([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const);

/** One of `OAUTH_ALGORITHMS`. */
export type OAuthAlgorithm = (typeof OAUTH_ALGORITHMS)[number];

/** RFC 7662 token introspection, for access tokens that are not JWTs (opaque tokens). */
export interface OAuthIntrospectionOptions {
  /** The introspection endpoint: `https://`, or `http://` on a loopback address (the client secret travels with every call). */
  readonly url: string;
  /** This resource server's client id at the authorization server (HTTP Basic). */
  readonly clientId: string;
  readonly clientSecret: string;
  /** Longest time an active answer is reused, never past the token's `exp`, a duration (default `5m`; `0s`: never). */
  readonly cacheMaxAge?: string;
  /** How long one introspection call may take, a duration (default `5s`). */
  readonly timeout?: string;
}

/**
 * OAuth 2.0 bearer tokens, resource-server side: JWT access tokens (RFC 9068) verified against the
 * authorization server's JWKS, and optionally opaque tokens through introspection (RFC 7662).
 */
export interface OAuthOptions {
  /** The `iss` every token must carry, exactly. */
  readonly issuer: string;
  /** The `aud` a token must carry (one of them, for a list). */
  readonly audience: string | readonly string[];
  /** The authorization server's JWKS; `https://` (plain http only on loopback: security lint rule `oauth-jwks-http`). */
  readonly jwksUrl: string;
  /** Accepted signature algorithms (default RS256, PS256, ES256, EdDSA); `none` and HS* are refused. */
  readonly algorithms?: readonly OAuthAlgorithm[];
  /** Leeway for `exp` and `nbf`, a duration (default `30s`, at most `5m`). */
  readonly clockTolerance?: string;
  /** Least time between two JWKS fetches caused by an unknown `kid`, a duration (default `30s`). */
  readonly jwksCooldown?: string;
  /** Longest time fetched keys are used before they are fetched again, a duration (default `10m`). */
  readonly jwksCacheMaxAge?: string;
  /**
   * What each scope grants: `{ 'items.read': ['items:read'] }`. A scope not listed that is a concrete
   * permission name (`items:read`, no `*`) grants itself; any other grants nothing. Token permissions are
   * always intersected with the user's role permissions.
   */
  readonly scopeMap?: Readonly<Record<string, readonly string[]>>;
  readonly introspection?: OAuthIntrospectionOptions;
}

/** `oauth.introspection` after parsing. */
export interface ResolvedOAuthIntrospectionOptions {
  readonly url: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly cacheMaxAgeMs: number;
  readonly timeoutMs: number;
}

/** `oauth` after parsing. */
export interface ResolvedOAuthOptions {
  readonly issuer: string;
  readonly audience: readonly string[];
  readonly jwksUrl: string;
  readonly algorithms: readonly OAuthAlgorithm[];
  readonly clockToleranceMs: number;
  readonly jwksCooldownMs: number;
  readonly jwksCacheMaxAgeMs: number;
  readonly scopeMap: Readonly<Record<string, readonly string[]>>;
  readonly introspection: ResolvedOAuthIntrospectionOptions | false;
}

/** Defaults of `oauth` (the feature itself is off unless configured). */
export const OAUTH_DEFAULTS = Object.freeze({
  algorithms: Object.freeze(['RS256', 'PS256', 'ES256', 'EdDSA'] as const),
  clockTolerance: '30s',
  jwksCooldown: '30s',
  jwksCacheMaxAge: '10m',
  introspection: Object.freeze({ cacheMaxAge: '5m', timeout: '5s' }),
});

// A longer leeway keeps expired tokens usable; five minutes is already generous for clock skew.
const MAX_CLOCK_TOLERANCE_MS = 300_000;
// RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;
const KEYS = [
  'issuer',
  'audience',
  'jwksUrl',
  'algorithms',
  'clockTolerance',
  'jwksCooldown',
  'jwksCacheMaxAge',
  'scopeMap',
  'introspection',
];
const INTROSPECTION_KEYS = ['url', 'clientId', 'clientSecret', 'cacheMaxAge', 'timeout'];

type Raw = Record<string, unknown>;

/**
 * Checks and parses the `oauth` option; `false` (the default) when it is absent or `false`. Pure. A plain
 * http `jwksUrl` is left to the security lint (rule `oauth-jwks-http`: refused in production, a warning
 * otherwise); a plain http introspection URL off loopback is refused everywhere, since it carries the
 * client secret.
 * @example resolveOAuthOptions({ issuer: 'https://idp.example.com/', audience: 'api', jwksUrl: 'https://idp.example.com/jwks' }, { production: true, warnings: [] })
 */
export function resolveOAuthOptions(
  value: unknown,
  _context: { readonly production: boolean; readonly warnings: string[] },
): ResolvedOAuthOptions | false {
  if (value === undefined || value === false) return false;
  if (!isRecord(value)) {
    fail('TYPE', 'oauth', 'use { issuer, audience, jwksUrl, … } or false');
  }
  knownKeys(value, 'oauth', KEYS);
  const issuer = value.issuer;
  if (typeof issuer !== 'string' || issuer.trim() === '' || issuer.trim() !== issuer) {
    fail(
      'INVALID_VALUE',
      'oauth.issuer',
      'use the exact issuer of your authorization server, e.g. https://idp.example.com/',
    );
  }
  const audience = typeof value.audience === 'string' ? [value.audience] : value.audience;
  if (
    !Array.isArray(audience) ||
    audience.length === 0 ||
    audience.some((entry) => typeof entry !== 'string' || entry.trim() === '')
  ) {
    fail('INVALID_VALUE', 'oauth.audience', 'use the audience of this API as a string, or a non-empty list of strings');
  }
  const jwksUrl = httpUrl(value.jwksUrl, 'oauth.jwksUrl');
  const algorithms = value.algorithms ?? OAUTH_DEFAULTS.algorithms;
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    fail('INVALID_ALGORITHM', 'oauth.algorithms', `use a non-empty list of ${OAUTH_ALGORITHMS.join(', ')}`);
  }
  for (const algorithm of algorithms) {
    if (!(OAUTH_ALGORITHMS as readonly unknown[]).includes(algorithm)) {
      const why =
        typeof algorithm === 'string' && (algorithm.toLowerCase() === 'none' || /^HS/i.test(algorithm))
          ? 'is refused: an unsigned or HMAC token could be forged with public information'
          : 'is not an asymmetric JWS algorithm';
      fail(
        'INVALID_ALGORITHM',
        'oauth.algorithms',
        `"${String(algorithm)}" ${why}; use ${OAUTH_ALGORITHMS.join(', ')}`,
      );
    }
  }
  const clockToleranceMs = duration(
    value.clockTolerance ?? OAUTH_DEFAULTS.clockTolerance,
    'oauth.clockTolerance',
    true,
  );
  if (clockToleranceMs > MAX_CLOCK_TOLERANCE_MS) {
    fail('INVALID_VALUE', 'oauth.clockTolerance', 'at most 5m: a longer leeway keeps expired tokens usable');
  }
  return {
    issuer,
    audience: [...new Set(audience as string[])],
    jwksUrl,
    algorithms: [...new Set(algorithms as OAuthAlgorithm[])],
    clockToleranceMs,
    // Never 0: every token with an unknown kid would make this server fetch the JWKS.
    jwksCooldownMs: duration(value.jwksCooldown ?? OAUTH_DEFAULTS.jwksCooldown, 'oauth.jwksCooldown'),
    jwksCacheMaxAgeMs: duration(value.jwksCacheMaxAge ?? OAUTH_DEFAULTS.jwksCacheMaxAge, 'oauth.jwksCacheMaxAge'),
    scopeMap: resolveScopeMap(value.scopeMap),
    introspection: resolveIntrospection(value.introspection),
  };
}

function resolveScopeMap(value: unknown): Record<string, readonly string[]> {
  if (value === undefined) return {};
  if (!isRecord(value)) fail('INVALID_SCOPE_MAP', 'oauth.scopeMap', "use { 'items.read': ['items:read'] }");
  const entries: Array<[string, readonly string[]]> = [];
  for (const [scope, permissions] of Object.entries(value)) {
    if (!SCOPE_TOKEN.test(scope)) {
      fail('INVALID_SCOPE_MAP', 'oauth.scopeMap', `"${scope}" is not a scope (printable ASCII, no space, " or \\)`);
    }
    if (
      !Array.isArray(permissions) ||
      permissions.some((entry) => typeof entry !== 'string' || !isValidPermission(entry))
    ) {
      fail(
        'INVALID_SCOPE_MAP',
        `oauth.scopeMap.${scope}`,
        'use a list of permissions such as ["documents:read", "documents:write"] ([] grants nothing)',
      );
    }
    entries.push([scope, [...new Set(permissions as string[])]]);
  }
  // fromEntries defines own properties: a scope named __proto__ stays a scope.
  return Object.fromEntries(entries);
}

function resolveIntrospection(value: unknown): ResolvedOAuthIntrospectionOptions | false {
  if (value === undefined || value === false) return false;
  if (!isRecord(value)) fail('TYPE', 'oauth.introspection', 'use { url, clientId, clientSecret } or leave it out');
  knownKeys(value, 'oauth.introspection', INTROSPECTION_KEYS);
  const url = httpUrl(value.url, 'oauth.introspection.url');
  if (new URL(url).protocol === 'http:' && !isLoopbackHost(new URL(url).hostname)) {
    fail(
      'INSECURE_INTROSPECTION_URL',
      'oauth.introspection.url',
      `"${new URL(url).origin}" uses http, and every call carries the client secret and a token; use https (http is accepted on loopback addresses only)`,
    );
  }
  for (const name of ['clientId', 'clientSecret'] as const) {
    if (typeof value[name] !== 'string' || value[name] === '') {
      fail(
        'INVALID_VALUE',
        `oauth.introspection.${name}`,
        'use the credentials of this API at the authorization server',
      );
    }
  }
  const d = OAUTH_DEFAULTS.introspection;
  return {
    url,
    clientId: value.clientId as string,
    clientSecret: value.clientSecret as string,
    cacheMaxAgeMs: duration(value.cacheMaxAge ?? d.cacheMaxAge, 'oauth.introspection.cacheMaxAge', true),
    timeoutMs: duration(value.timeout ?? d.timeout, 'oauth.introspection.timeout'),
  };
}

function httpUrl(value: unknown, option: string): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '') {
    fail(
      'INVALID_URL',
      option,
      'use an https:// URL without credentials, e.g. https://idp.example.com/.well-known/jwks.json',
    );
  }
  return value as string;
}

function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '[::1]') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

function isRecord(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
