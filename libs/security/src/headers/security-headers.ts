import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';
import { SecurityConfigError } from '../core/errors.js';
import type { HttpRequestLike } from '../http/http-request.js';
import type { ResolvedSecurityHeadersOptions, TrustProxyOption } from '../options/security-options.js';
import { normalizeIp, resolveClientIp } from '../rate-limit/core/client-ip.js';

/** One header the preset writes: name and value, or a name to remove (`value: null`). */
export interface SecurityHeader {
  readonly name: string;
  readonly value: string | null;
}

/** The precomputed header lists: the default set, HSTS (HTTPS only), and the relaxed sets by path prefix. */
export interface SecurityHeaderPlan {
  readonly headers: readonly SecurityHeader[];
  readonly hsts: SecurityHeader | undefined;
  /** Longest prefix first; each list is the whole default set with that prefix's Content-Security-Policy. */
  readonly relaxed: ReadonlyArray<{ readonly prefix: string; readonly headers: readonly SecurityHeader[] }>;
}

/** What `@SecurityHeaders()` may change for a route or a controller; HSTS stays a property of the whole site. */
export interface SecurityHeadersOverride {
  /** The route's own policy, e.g. for an HTML page; validated by helmet when the class is declared. */
  readonly contentSecurityPolicy?: string;
  /** `false` leaves caching to the route (no `Cache-Control` from the preset). */
  readonly cacheControl?: string | false;
  readonly frameOptions?: 'DENY' | 'SAMEORIGIN' | false;
  /** One token, or a comma-separated fallback list (the browser uses the last one it knows). */
  readonly referrerPolicy?: string;
}

const OVERRIDE_KEYS: ReadonlyArray<keyof SecurityHeadersOverride> = [
  'contentSecurityPolicy',
  'cacheControl',
  'frameOptions',
  'referrerPolicy',
];

/**
 * helmet's headers besides the four the options configure, each kept or dropped on purpose (docs/http-hardening.md
 * says why): the ones that make a browser stricter with a response it renders or embeds are kept; a DNS
 * prefetch switch (no security value) and an Internet Explorer 8 download option are dropped.
 */
const HELMET_OTHER_HEADERS = {
  // Off in helmet too: `require-corp` would stop the API explorer page loading anything without CORP.
  crossOriginEmbedderPolicy: false,
  crossOriginOpenerPolicy: { policy: 'same-origin' },
  // Only no-cors loads (<script>, <img>) from other sites are stopped; CORS fetches are governed by CORS.
  crossOriginResourcePolicy: { policy: 'same-origin' },
  originAgentCluster: true,
  xContentTypeOptions: true,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: { permittedPolicies: 'none' },
  xPoweredBy: true,
  // `X-XSS-Protection: 0`: the old XSS auditors could be abused to leak data; CSP replaced them.
  xXssProtection: true,
} as const;

/**
 * Computes the header lists once, at boot, by running helmet once against a recording response (and its
 * Content-Security-Policy middleware once per relaxed path): the hooks then only copy the lists. Invalid
 * values (an unquoted `'self'`, an unknown referrer token) fail here with `SecurityConfigError`.
 */
export function buildSecurityHeaders(options: ResolvedSecurityHeadersOptions): SecurityHeaderPlan {
  const recorded = recordHeaders('headers', () =>
    helmet({
      ...HELMET_OTHER_HEADERS,
      contentSecurityPolicy: cspOptions(options.contentSecurityPolicy, 'headers.contentSecurityPolicy'),
      xFrameOptions: options.frameOptions === false ? false : { action: frameAction(options.frameOptions) },
      referrerPolicy: { policy: referrerTokens(options.referrerPolicy, 'headers.referrerPolicy') },
      strictTransportSecurity: options.hsts === false ? false : { ...options.hsts, maxAge: options.hsts.maxAgeSeconds },
    }),
  );
  const hsts = recorded.find((header) => header.name === 'Strict-Transport-Security');
  const headers = recorded
    .filter((header) => header !== hsts)
    .map((header) => (header.name === 'Content-Security-Policy' ? spaced(header) : header));
  if (options.cacheControl !== false) headers.push({ name: 'Cache-Control', value: options.cacheControl });
  const relaxed = Object.entries(options.relaxedPaths)
    .map(([prefix, policy]) => {
      const csp = renderContentSecurityPolicy(policy, `headers.relaxedPaths["${prefix}"]`);
      return { prefix: trimSlash(prefix), headers: headers.map((h) => (h.name === csp.name ? csp : h)) };
    })
    .sort((a, b) => b.prefix.length - a.prefix.length);
  return { headers, hsts, relaxed };
}

/** The list for a request path (no query string): a relaxed set when the path is under one of its prefixes. */
export function securityHeadersFor(plan: SecurityHeaderPlan, path: string): readonly SecurityHeader[] {
  for (const entry of plan.relaxed) {
    // On a segment boundary: `/docs` covers `/docs` and `/docs/…`, not `/docs-json` or `/docsx`.
    if (path.startsWith(entry.prefix) && (path.length === entry.prefix.length || path[entry.prefix.length] === '/')) {
      return entry.headers;
    }
  }
  return plan.headers;
}

/**
 * The headers `@SecurityHeaders()` writes over the preset for one route, rendered by helmet like the
 * preset's; `null` values remove a header. Throws `SecurityConfigError` for an invalid value.
 */
export function buildHeaderOverrides(
  overrides: SecurityHeadersOverride,
  option = '@SecurityHeaders()',
): SecurityHeader[] {
  if (typeof overrides !== 'object' || overrides === null) {
    throw new SecurityConfigError('ERR_SECURITY_CONFIG_TYPE', option, `use { ${OVERRIDE_KEYS.join(', ')} }`);
  }
  for (const key of Object.keys(overrides)) {
    if (!OVERRIDE_KEYS.includes(key as keyof SecurityHeadersOverride)) {
      throw new SecurityConfigError(
        'ERR_SECURITY_CONFIG_UNKNOWN_OPTION',
        `${option}.${key}`,
        `unknown option; expected one of ${OVERRIDE_KEYS.join(', ')}`,
      );
    }
  }
  const headers: SecurityHeader[] = [];
  const { contentSecurityPolicy, cacheControl, frameOptions, referrerPolicy } = overrides;
  if (contentSecurityPolicy !== undefined) {
    headers.push(renderContentSecurityPolicy(contentSecurityPolicy, `${option}.contentSecurityPolicy`));
  }
  if (cacheControl !== undefined) {
    headers.push({
      name: 'Cache-Control',
      value: cacheControl === false ? null : oneLine(cacheControl, `${option}.cacheControl`),
    });
  }
  if (frameOptions !== undefined) {
    if (frameOptions !== false && frameOptions !== 'DENY' && frameOptions !== 'SAMEORIGIN') {
      invalid(`${option}.frameOptions`, "use 'DENY', 'SAMEORIGIN' or false");
    }
    headers.push(
      frameOptions === false
        ? { name: 'X-Frame-Options', value: null }
        : single(`${option}.frameOptions`, () => helmet.xFrameOptions({ action: frameAction(frameOptions) })),
    );
  }
  if (referrerPolicy !== undefined) {
    const policy = referrerTokens(referrerPolicy, `${option}.referrerPolicy`);
    headers.push(single(`${option}.referrerPolicy`, () => helmet.referrerPolicy({ policy })));
  }
  return headers;
}

/**
 * Whether the client reached us over TLS: the socket is encrypted, or the request came through proxies
 * `trustProxy` trusts (the rules of `resolveClientIp`) and the `X-Forwarded-Proto` entry written by the
 * outermost trusted proxy, the one the client connected to, says `https`. Entries further left were
 * written by the client or an untrusted hop and are ignored; proxies that overwrite the header instead
 * of appending leave one entry, which is then the one read.
 * @example isSecureRequest(request, ['10.0.0.0/8']) // X-Forwarded-Proto: https from 10.0.0.2 → true
 */
export function isSecureRequest(request: HttpRequestLike, trustProxy: TrustProxyOption): boolean {
  const socket = (request.raw ?? request).socket as { remoteAddress?: string; encrypted?: boolean } | undefined;
  if (socket?.encrypted === true) return true;
  if (trustProxy === false) return false;
  const protos = listOf(request.headers['x-forwarded-proto']);
  if (protos.length === 0) return false;
  const proxies = trustedProxyCount(socket?.remoteAddress, listOf(request.headers['x-forwarded-for']), trustProxy);
  if (proxies === 0) return false;
  return protos[Math.max(0, protos.length - proxies)]!.trim().toLowerCase() === 'https';
}

// How many proxies in a row, from the socket peer outwards, are trusted: the walk of `resolveClientIp`,
// which also counts a trusted last hop that forwarded no address.
function trustedProxyCount(peer: string | undefined, forwardedFor: readonly string[], trust: TrustProxyOption): number {
  let count = 0;
  let address = normalizeIp(peer);
  while (address !== undefined && trustsHop(address, count, trust)) {
    count++;
    address = normalizeIp(forwardedFor[forwardedFor.length - count]);
  }
  return count;
}

// `resolveClientIp` keeps its trust test to itself; asked to walk one hop from `address` to a different
// documentation address, it moves exactly when it trusts `address`. Hop counts only depend on the position.
function trustsHop(address: string, hop: number, trust: TrustProxyOption): boolean {
  if (trust === false) return false;
  if (typeof trust === 'number') return hop < trust;
  const probe = address === '192.0.2.1' ? '192.0.2.2' : '192.0.2.1';
  return resolveClientIp({ remoteAddress: address, forwardedFor: probe, trustProxy: trust }) === probe;
}

function listOf(value: string | readonly string[] | undefined): string[] {
  const text = typeof value === 'string' ? value : (value ?? []).join(',');
  return text.trim() === '' ? [] : text.split(',');
}

/** A policy string as helmet's directives: `default-src 'none'; frame-ancestors 'none'`. */
function cspOptions(policy: string, option: string): { useDefaults: false; directives: Record<string, string[]> } {
  const directives: Record<string, string[]> = {};
  for (const part of oneLine(policy, option).split(';')) {
    const [name, ...values] = part.trim().split(/\s+/).filter(Boolean);
    if (name === undefined) continue;
    const key = name.toLowerCase();
    if (Object.hasOwn(directives, key)) invalid(option, `the directive "${key}" appears twice`);
    directives[key] = values;
  }
  return { useDefaults: false, directives };
}

function renderContentSecurityPolicy(policy: string, option: string): SecurityHeader {
  return spaced(single(option, () => helmet.contentSecurityPolicy(cspOptions(policy, option))));
}

// helmet joins directives with a bare `;`; the preset writes `; ` as the policies are documented (a `;`
// never occurs inside a directive: helmet refuses it).
function spaced(header: SecurityHeader): SecurityHeader {
  return { name: header.name, value: header.value!.split(';').join('; ') };
}

// Typed as helmet's tokens: helmet itself refuses an unknown one, at boot.
type ReferrerTokens = Extract<NonNullable<Parameters<typeof helmet.referrerPolicy>[0]>['policy'], unknown[]>;

function referrerTokens(value: string, option: string): ReferrerTokens {
  return oneLine(value, option)
    .split(',')
    .map((token) => token.trim()) as ReferrerTokens;
}

function frameAction(value: 'DENY' | 'SAMEORIGIN'): 'deny' | 'sameorigin' {
  return value === 'DENY' ? 'deny' : 'sameorigin';
}

// `/docs/` covers what `/docs` covers; `/` (everything) becomes the empty prefix.
function trimSlash(prefix: string): string {
  return prefix.replace(/\/+$/, '');
}

function oneLine(value: unknown, option: string): string {
  if (typeof value !== 'string' || value.trim() === '' || /[\r\n]/.test(value)) {
    invalid(option, 'use a header value on one line');
  }
  return value;
}

type Middleware = (request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void) => void;

// Runs helmet middleware against a response that only records, and returns what it set or removed, in order.
function recordHeaders(option: string, make: () => Middleware): SecurityHeader[] {
  const recorded: SecurityHeader[] = [];
  const remember = (name: string, value: string | null) => {
    const index = recorded.findIndex((header) => header.name.toLowerCase() === name.toLowerCase());
    if (index !== -1) recorded.splice(index, 1);
    recorded.push({ name, value });
  };
  const response = {
    setHeader: (name: string, value: unknown) => remember(name, String(value)),
    removeHeader: (name: string) => remember(name, null),
  } as unknown as ServerResponse;
  let failure: unknown;
  let called = false;
  try {
    make()({} as IncomingMessage, response, (error) => {
      called = true;
      failure = error;
    });
  } catch (error) {
    if (error instanceof SecurityConfigError) throw error;
    failure = error;
  }
  if (failure !== undefined || !called) {
    invalid(option, failure instanceof Error ? failure.message : 'helmet did not finish synchronously');
  }
  return recorded;
}

function single(option: string, make: () => Middleware): SecurityHeader {
  return recordHeaders(option, make)[0]!;
}

function invalid(option: string, message: string): never {
  throw new SecurityConfigError('ERR_SECURITY_CONFIG_INVALID_VALUE', option, message);
}
