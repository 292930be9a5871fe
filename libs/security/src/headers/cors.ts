import type { ResolvedCorsOptions } from '../options/security-options.js';

/**
 * Response headers scripts on an allowed origin may read, besides `cors.exposedHeaders`: the rate-limit,
 * deprecation and request id headers the library writes (the CORS-safelisted ones need no listing).
 */
export const CORS_EXPOSED_HEADERS: readonly string[] = Object.freeze([
  'RateLimit',
  'RateLimit-Policy',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'Retry-After',
  'Deprecation',
  'Sunset',
  'Link',
  'Warning',
  'X-Request-Id',
]);

/** One response header CORS writes: a name and its value. */
export type CorsHeader = readonly [name: string, value: string];

/** The allow-list and the fixed header values, compiled once at boot by `compileCorsPolicy`. */
export interface CorsPolicy {
  /** `origins: ['*']`: every origin, without credentials. */
  readonly anyOrigin: boolean;
  /** Canonical origin → the configured text that is sent back. */
  readonly origins: ReadonlyMap<string, string>;
  readonly patterns: readonly RegExp[];
  readonly credentials: boolean;
  readonly methods: ReadonlySet<string>;
  /** Lower case. */
  readonly allowedHeaders: ReadonlySet<string>;
  readonly allowMethods: string;
  readonly maxAge: string;
  readonly exposeHeaders: string;
}

/** What CORS reads of a request: its method and three headers, as the HTTP server parsed them. */
export interface CorsRequest {
  readonly method: string | undefined;
  readonly origin: unknown;
  /** `Access-Control-Request-Method`. */
  readonly requestMethod: unknown;
  /** `Access-Control-Request-Headers`. */
  readonly requestHeaders: unknown;
}

/**
 * What to do with a request: a preflight is answered at once with `204` and `headers` (granted or not:
 * a refused one carries no `Access-Control-*`); any other request gets `headers` and goes on.
 */
export interface CorsDecision {
  readonly preflight: boolean;
  /** Whether the origin (and for a preflight, the method and headers) is granted. */
  readonly allowed: boolean;
  readonly headers: readonly CorsHeader[];
}

// A serialised origin is at most scheme + 253-character host + port; longer text is never an origin, and
// the cap bounds the work of configured patterns.
const MAX_ORIGIN_LENGTH = 300;
// scheme://host[:port] and nothing else: no user info, path, query, fragment, backslash or white space.
const ORIGIN_SHAPE = /^https?:\/\/[^/?#@\\\s]+$/i;
// RFC 9110 token: methods and header names.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const VARY_ACTUAL = 'Origin';
const VARY_PREFLIGHT = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';

/** Compiles resolved `cors` options (validated at boot: origins, anchored patterns, methods, header names). */
export function compileCorsPolicy(options: ResolvedCorsOptions): CorsPolicy {
  const origins = new Map<string, string>();
  for (const origin of options.origins) {
    if (origin === '*') continue;
    const canonical = canonicalOrigin(origin);
    if (canonical !== undefined) origins.set(canonical, origin);
  }
  const exposed = new Map<string, string>();
  for (const name of [...CORS_EXPOSED_HEADERS, ...options.exposedHeaders]) {
    if (!exposed.has(name.toLowerCase())) exposed.set(name.toLowerCase(), name);
  }
  return Object.freeze({
    anyOrigin: options.origins.includes('*'),
    origins,
    patterns: options.patterns.map((source) => new RegExp(source)),
    credentials: options.credentials,
    methods: new Set(options.methods),
    allowedHeaders: new Set(options.allowedHeaders.map((name) => name.toLowerCase())),
    allowMethods: options.methods.join(', '),
    maxAge: String(options.maxAgeSeconds),
    exposeHeaders: [...exposed.values()].join(', '),
  });
}

/** Whether the policy can grant anything at all: an empty allow-list grants no origin. */
export function grantsAnyOrigin(policy: CorsPolicy): boolean {
  return policy.anyOrigin || policy.origins.size > 0 || policy.patterns.length > 0;
}

/**
 * The origin as browsers serialise it (lower case, no default port), or undefined when `text` is not an
 * http(s) origin written the way a URL parser would write it: `https://a.com:443` is `https://a.com`, but
 * `https://a.com:0443`, `https://a.com/`, `https://user@a.com`, percent-encoded or Unicode hosts are not
 * origins. The allow-list compares these strings exactly.
 * @example canonicalOrigin('https://App.example.com:443') // 'https://app.example.com'
 */
export function canonicalOrigin(text: string): string | undefined {
  if (text.length > MAX_ORIGIN_LENGTH || !ORIGIN_SHAPE.test(text)) return undefined;
  const lower = text.toLowerCase();
  const withoutDefaultPort = lower.startsWith('https:') ? lower.replace(/:443$/, '') : lower.replace(/:80$/, '');
  let url: URL;
  try {
    url = new URL(lower);
  } catch {
    return undefined;
  }
  // The parser rewrites what it does not take literally (IPv4 in hex, %-escapes, IDN): such text is refused.
  return url.origin === withoutDefaultPort ? withoutDefaultPort : undefined;
}

/**
 * The `Access-Control-Allow-Origin` value for a request's `Origin`, or undefined when it is not allowed.
 * Never the request's text: the configured entry, `*`, or for a pattern the canonical form that matched.
 * `null`, malformed and repeated `Origin` headers are never allowed (except by `*`, which grants every page).
 */
export function allowedOriginValue(policy: CorsPolicy, origin: unknown): string | undefined {
  if (typeof origin !== 'string') return undefined;
  if (policy.anyOrigin) return '*';
  const canonical = canonicalOrigin(origin);
  if (canonical === undefined) return undefined;
  const listed = policy.origins.get(canonical);
  if (listed !== undefined) return listed;
  return policy.patterns.some((pattern) => pattern.test(canonical)) ? canonical : undefined;
}

/**
 * The header names of an `Access-Control-Request-Headers` value, lower case, in order, without repeats,
 * or undefined when one of them is not a header name.
 */
export function requestedHeaderNames(value: unknown): string[] | undefined {
  if (value === undefined) return [];
  if (typeof value !== 'string') return undefined;
  const names: string[] = [];
  for (const element of value.split(',')) {
    const name = element.trim().toLowerCase();
    // RFC 9110 lists may hold empty elements.
    if (name === '') continue;
    if (!TOKEN.test(name)) return undefined;
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

/**
 * Decides the CORS headers of a request. A preflight is an `OPTIONS` request with `Origin` and
 * `Access-Control-Request-Method`; it is granted only when the origin is allowed, the method is configured
 * and every requested header is configured. Every answer varies on `Origin`.
 * @example
 * decideCors(policy, { method: 'GET', origin: 'https://app.example.com', requestMethod: undefined, requestHeaders: undefined })
 * // { preflight: false, allowed: true, headers: [['Vary', 'Origin'], ['Access-Control-Allow-Origin', 'https://app.example.com'], ...] }
 */
export function decideCors(policy: CorsPolicy, request: CorsRequest): CorsDecision {
  const preflight = request.method === 'OPTIONS' && request.origin !== undefined && request.requestMethod !== undefined;
  const allowOrigin = request.origin === undefined ? undefined : allowedOriginValue(policy, request.origin);
  if (!preflight) {
    if (allowOrigin === undefined) return { preflight, allowed: false, headers: [['Vary', VARY_ACTUAL]] };
    const headers: CorsHeader[] = [
      ['Vary', VARY_ACTUAL],
      ['Access-Control-Allow-Origin', allowOrigin],
    ];
    if (policy.credentials) headers.push(['Access-Control-Allow-Credentials', 'true']);
    headers.push(['Access-Control-Expose-Headers', policy.exposeHeaders]);
    return { preflight, allowed: true, headers };
  }
  const refused: CorsDecision = { preflight, allowed: false, headers: [['Vary', VARY_PREFLIGHT]] };
  if (allowOrigin === undefined) return refused;
  const method = request.requestMethod;
  // Methods are case-sensitive: `patch` is not `PATCH`, and the configured list is upper case.
  if (typeof method !== 'string' || !TOKEN.test(method) || !policy.methods.has(method)) return refused;
  const requested = requestedHeaderNames(request.requestHeaders);
  if (requested === undefined || requested.some((name) => !policy.allowedHeaders.has(name))) return refused;
  const headers: CorsHeader[] = [
    ['Vary', VARY_PREFLIGHT],
    ['Access-Control-Allow-Origin', allowOrigin],
  ];
  if (policy.credentials) headers.push(['Access-Control-Allow-Credentials', 'true']);
  headers.push(['Access-Control-Allow-Methods', policy.allowMethods]);
  if (requested.length > 0) headers.push(['Access-Control-Allow-Headers', requested.join(', ')]);
  headers.push(['Access-Control-Max-Age', policy.maxAge]);
  return { preflight, allowed: true, headers };
}

/**
 * Adds `added` (a comma-separated list) to a `Vary` value already set, without repeating a name;
 * `*` stays `*`.
 * @example mergeVary('Accept-Encoding', 'Origin') // 'Accept-Encoding, Origin'
 */
export function mergeVary(existing: unknown, added: string): string {
  const current =
    typeof existing === 'string' ? existing : Array.isArray(existing) ? existing.map(String).join(', ') : '';
  const names = current
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (names.includes('*')) return '*';
  const seen = new Set(names.map((name) => name.toLowerCase()));
  for (const name of added.split(',').map((part) => part.trim())) {
    if (name !== '' && !seen.has(name.toLowerCase())) {
      names.push(name);
      seen.add(name.toLowerCase());
    }
  }
  return names.join(', ');
}
