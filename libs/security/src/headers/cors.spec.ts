import type { CorsOptions, ResolvedCorsOptions } from '../options/security-options.js';
import { resolveSecurityOptions } from '../options/resolve-security-options.js';
import {
  CORS_EXPOSED_HEADERS,
  allowedOriginValue,
  canonicalOrigin,
  compileCorsPolicy,
  decideCors,
  grantsAnyOrigin,
  mergeVary,
  requestedHeaderNames,
  type CorsPolicy,
  type CorsRequest,
} from './cors.js';

const APP = 'https://app.example.com';
const PREVIEW_PATTERN = '^https://pr-[0-9]+\\.preview\\.example\\.com$';
const EXPOSED =
  'RateLimit, RateLimit-Policy, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, ' +
  'Deprecation, Sunset, Link, Warning, X-Request-Id';
const PREFLIGHT_VARY = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';
const DEFAULT_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';

/** A policy from options as the module resolves them (so the defaults under test are the real ones). */
function policyOf(cors: CorsOptions): CorsPolicy {
  return compileCorsPolicy(resolveSecurityOptions({ cors }).cors as ResolvedCorsOptions);
}

const allowList = policyOf({ origins: [APP, 'http://localhost:5173'], patterns: [PREVIEW_PATTERN], credentials: true });
const noCredentials = policyOf({ origins: [APP] });
const anyOrigin = policyOf({ origins: ['*'] });

const actual = (origin: unknown, method = 'GET'): CorsRequest => ({
  method,
  origin,
  requestMethod: undefined,
  requestHeaders: undefined,
});
const preflight = (origin: unknown, requestMethod: unknown, requestHeaders?: unknown): CorsRequest => ({
  method: 'OPTIONS',
  origin,
  requestMethod,
  requestHeaders,
});

describe('canonicalOrigin', () => {
  it.each([
    ['https://app.example.com', 'https://app.example.com'],
    ['https://app.example.com:443', 'https://app.example.com'],
    ['http://app.example.com:80', 'http://app.example.com'],
    ['HTTPS://App.Example.COM', 'https://app.example.com'],
    ['https://app.example.com:8443', 'https://app.example.com:8443'],
    ['http://app.example.com:443', 'http://app.example.com:443'],
    ['https://app.example.com:80', 'https://app.example.com:80'],
    ['http://127.0.0.1:3000', 'http://127.0.0.1:3000'],
    ['http://[::1]:3000', 'http://[::1]:3000'],
  ])('%s is %s', (text, origin) => expect(canonicalOrigin(text)).toBe(origin));

  it.each([
    'null',
    '',
    'app.example.com',
    'https://',
    'https://app.example.com/',
    'https://app.example.com/path',
    'https://app.example.com?x=1',
    'https://app.example.com#x',
    'https://user@app.example.com',
    'https://evil.example@app.example.com',
    'https://app.example.com\\@evil.example',
    'https://app.example.com:',
    'https://app.example.com:0443',
    'https://app.example.com:99999',
    'https://app%2Eexample.com',
    'http://0x7f000001:3000',
    'https://bücher.example',
    'https://app.example.com ',
    ' https://app.example.com',
    'https://app.example.com, https://app.example.com',
    'ftp://app.example.com',
    'file://',
    'chrome-extension://abcdef',
    `https://${'a'.repeat(300)}.example.com`,
  ])('refuses %j', (text) => expect(canonicalOrigin(text)).toBeUndefined());
});

describe('allowedOriginValue', () => {
  it('allows a listed origin and answers with the configured text, never the request text', () => {
    expect(allowedOriginValue(allowList, APP)).toBe(APP);
    expect(allowedOriginValue(allowList, 'https://app.example.com:443')).toBe(APP);
    expect(allowedOriginValue(allowList, 'https://APP.example.com')).toBe(APP);
    expect(allowedOriginValue(allowList, 'http://localhost:5173')).toBe('http://localhost:5173');
  });

  it.each([
    ['another site', 'https://evil.example'],
    ['the null origin', 'null'],
    ['a listed origin as a subdomain prefix', 'https://app.example.com.evil.example'],
    ['a listed origin as a string prefix', 'https://app.example.comevil.com'],
    ['a listed origin as a string suffix', 'https://evilapp.example.com'],
    ['a subdomain of a listed origin', 'https://sub.app.example.com'],
    ['the parent domain', 'https://example.com'],
    ['another scheme', 'http://app.example.com'],
    ['another port', 'https://app.example.com:8443'],
    ['a listed host with the other default port', 'https://app.example.com:80'],
    ['a trailing dot', 'https://app.example.com.'],
    ['a trailing slash', 'https://app.example.com/'],
    ['user info', 'https://app.example.com@evil.example'],
    ['two Origin headers joined', `${APP}, https://evil.example`],
    ['the same origin twice', `${APP}, ${APP}`],
    ['an empty Origin', ''],
    ['a localhost origin on another port', 'http://localhost:5174'],
  ])('refuses %s (%s)', (_label, origin) => expect(allowedOriginValue(allowList, origin)).toBeUndefined());

  it('refuses values that are not one header string', () => {
    expect(allowedOriginValue(allowList, undefined)).toBeUndefined();
    expect(allowedOriginValue(allowList, [APP])).toBeUndefined();
    expect(allowedOriginValue(allowList, [APP, APP])).toBeUndefined();
  });

  it('allows origins matching an anchored pattern, answering with the canonical origin', () => {
    expect(allowedOriginValue(allowList, 'https://pr-42.preview.example.com')).toBe(
      'https://pr-42.preview.example.com',
    );
    expect(allowedOriginValue(allowList, 'https://pr-42.preview.example.com:443')).toBe(
      'https://pr-42.preview.example.com',
    );
    expect(allowedOriginValue(allowList, 'https://PR-42.preview.example.com')).toBe(
      'https://pr-42.preview.example.com',
    );
  });

  it.each([
    'https://pr-42.preview.example.com.evil.example',
    'https://evil.example/?https://pr-42.preview.example.com',
    'https://pr-42.preview.example.com/',
    'https://pr-.preview.example.com',
    'http://pr-42.preview.example.com',
    'https://pr-42.preview.example.com:8443',
    'https://evil.example@pr-42.preview.example.com',
  ])('refuses %j although it contains a pattern match', (origin) => {
    expect(allowedOriginValue(allowList, origin)).toBeUndefined();
  });

  it('with *, grants every origin (the null origin too) with the value *', () => {
    for (const origin of [APP, 'https://evil.example', 'null', 'http://localhost:1']) {
      expect(allowedOriginValue(anyOrigin, origin)).toBe('*');
    }
  });
});

describe('decideCors on requests other than preflights', () => {
  it('gives an allowed origin its origin, credentials and the exposed headers', () => {
    expect(decideCors(allowList, actual(APP))).toEqual({
      preflight: false,
      allowed: true,
      headers: [
        ['Vary', 'Origin'],
        ['Access-Control-Allow-Origin', APP],
        ['Access-Control-Allow-Credentials', 'true'],
        ['Access-Control-Expose-Headers', EXPOSED],
      ],
    });
  });

  it('sends no credentials header when credentials are off', () => {
    expect(decideCors(noCredentials, actual(APP, 'POST')).headers).toEqual([
      ['Vary', 'Origin'],
      ['Access-Control-Allow-Origin', APP],
      ['Access-Control-Expose-Headers', EXPOSED],
    ]);
  });

  it('gives refused origins, null and requests without Origin nothing but Vary: Origin', () => {
    for (const origin of ['https://evil.example', 'null', 'https://app.example.com.evil.example', undefined]) {
      expect(decideCors(allowList, actual(origin))).toEqual({
        preflight: false,
        allowed: false,
        headers: [['Vary', 'Origin']],
      });
    }
  });

  it('answers * without credentials when every origin is allowed', () => {
    expect(decideCors(anyOrigin, actual('https://evil.example')).headers).toEqual([
      ['Vary', 'Origin'],
      ['Access-Control-Allow-Origin', '*'],
      ['Access-Control-Expose-Headers', EXPOSED],
    ]);
    expect(decideCors(anyOrigin, actual(undefined)).headers).toEqual([['Vary', 'Origin']]);
  });

  it('adds configured exposed headers once', () => {
    const policy = policyOf({ origins: [APP], exposedHeaders: ['X-Total-Count', 'x-request-id', 'Link'] });
    expect(decideCors(policy, actual(APP)).headers).toContainEqual([
      'Access-Control-Expose-Headers',
      `${EXPOSED}, X-Total-Count`,
    ]);
  });

  it('treats OPTIONS without Access-Control-Request-Method, or without Origin, as an ordinary request', () => {
    expect(decideCors(allowList, actual(APP, 'OPTIONS')).preflight).toBe(false);
    expect(decideCors(allowList, actual(APP, 'OPTIONS')).allowed).toBe(true);
    expect(decideCors(allowList, preflight(undefined, 'PUT'))).toEqual({
      preflight: false,
      allowed: false,
      headers: [['Vary', 'Origin']],
    });
  });
});

describe('decideCors on preflights', () => {
  it('grants an allowed origin the configured methods, the requested headers, max-age and credentials', () => {
    expect(decideCors(allowList, preflight(APP, 'PUT', 'Content-Type, x-api-key'))).toEqual({
      preflight: true,
      allowed: true,
      headers: [
        ['Vary', PREFLIGHT_VARY],
        ['Access-Control-Allow-Origin', APP],
        ['Access-Control-Allow-Credentials', 'true'],
        ['Access-Control-Allow-Methods', DEFAULT_METHODS],
        ['Access-Control-Allow-Headers', 'content-type, x-api-key'],
        ['Access-Control-Max-Age', '600'],
      ],
    });
  });

  it('grants only what is configured and requested', () => {
    const policy = policyOf({
      origins: [APP],
      methods: ['get', 'POST'],
      allowedHeaders: ['Content-Type'],
      maxAge: '1m',
    });
    expect(decideCors(policy, preflight(APP, 'POST', 'content-type')).headers).toEqual([
      ['Vary', PREFLIGHT_VARY],
      ['Access-Control-Allow-Origin', APP],
      ['Access-Control-Allow-Methods', 'GET, POST'],
      ['Access-Control-Allow-Headers', 'content-type'],
      ['Access-Control-Max-Age', '60'],
    ]);
  });

  it('leaves out Access-Control-Allow-Headers when none are requested', () => {
    const { headers } = decideCors(noCredentials, preflight(APP, 'DELETE'));
    expect(headers.map(([name]) => name)).toEqual([
      'Vary',
      'Access-Control-Allow-Origin',
      'Access-Control-Allow-Methods',
      'Access-Control-Max-Age',
    ]);
    expect(decideCors(noCredentials, preflight(APP, 'DELETE', ' , ')).allowed).toBe(true);
  });

  it('grants * preflights without credentials, still only the configured headers', () => {
    expect(decideCors(anyOrigin, preflight('null', 'POST', 'authorization')).headers).toEqual([
      ['Vary', PREFLIGHT_VARY],
      ['Access-Control-Allow-Origin', '*'],
      ['Access-Control-Allow-Methods', DEFAULT_METHODS],
      ['Access-Control-Allow-Headers', 'authorization'],
      ['Access-Control-Max-Age', '600'],
    ]);
    expect(decideCors(anyOrigin, preflight(APP, 'POST', 'x-evil')).allowed).toBe(false);
  });

  it.each([
    ['an unlisted origin', preflight('https://evil.example', 'GET')],
    ['the null origin', preflight('null', 'GET')],
    ['a prefix trick', preflight('https://app.example.com.evil.example', 'GET')],
    ['an unlisted method', preflight(APP, 'TRACE')],
    ['a method in the wrong case', preflight(APP, 'put')],
    ['a method that is not a token', preflight(APP, 'PUT, DELETE')],
    ['an empty method', preflight(APP, '')],
    ['repeated method headers', preflight(APP, ['PUT', 'PUT'])],
    ['one unlisted header among allowed ones', preflight(APP, 'PUT', 'content-type, x-evil, x-api-key')],
    ['a header name that is not a token', preflight(APP, 'PUT', 'content-type, x evil')],
    ['the * header name', preflight(APP, 'PUT', '*')],
    ['a cookie header', preflight(APP, 'POST', 'cookie')],
  ])('refuses %s with 204 and no Access-Control-* header', (_label, request) => {
    expect(decideCors(allowList, request)).toEqual({
      preflight: true,
      allowed: false,
      headers: [['Vary', PREFLIGHT_VARY]],
    });
  });

  it('grants headers case-insensitively and once', () => {
    expect(decideCors(allowList, preflight(APP, 'POST', 'X-API-Key,content-type,X-Api-Key')).headers).toContainEqual([
      'Access-Control-Allow-Headers',
      'x-api-key, content-type',
    ]);
  });
});

describe('requestedHeaderNames', () => {
  it('lists lower-case names in order without repeats, skipping empty list elements', () => {
    expect(requestedHeaderNames(undefined)).toEqual([]);
    expect(requestedHeaderNames('')).toEqual([]);
    expect(requestedHeaderNames('B, a,,\tb ,A')).toEqual(['b', 'a']);
  });

  it('refuses anything but a list of header names', () => {
    expect(requestedHeaderNames('a b')).toBeUndefined();
    expect(requestedHeaderNames('a:b')).toBeUndefined();
    expect(requestedHeaderNames(['a'])).toBeUndefined();
  });
});

describe('compileCorsPolicy', () => {
  it('grants nothing with an empty allow-list, so no hook is needed', () => {
    expect(grantsAnyOrigin(policyOf({}))).toBe(false);
    expect(grantsAnyOrigin(policyOf({ origins: [APP] }))).toBe(true);
    expect(grantsAnyOrigin(policyOf({ patterns: [PREVIEW_PATTERN] }))).toBe(true);
    expect(grantsAnyOrigin(anyOrigin)).toBe(true);
  });

  it('exposes the rate-limit, deprecation, Link and request id headers by default', () => {
    expect(CORS_EXPOSED_HEADERS.join(', ')).toBe(EXPOSED);
  });
});

describe('mergeVary', () => {
  it.each([
    [undefined, 'Origin', 'Origin'],
    ['', 'Origin', 'Origin'],
    ['Accept-Encoding', 'Origin', 'Accept-Encoding, Origin'],
    ['origin', 'Origin', 'origin'],
    ['Accept-Encoding, Origin', PREFLIGHT_VARY, `Accept-Encoding, ${PREFLIGHT_VARY}`],
    [['Accept', 'Accept-Encoding'], 'Origin', 'Accept, Accept-Encoding, Origin'],
    ['*', 'Origin', '*'],
  ])('merges %j and %j into %j', (existing, added, merged) => expect(mergeVary(existing, added)).toBe(merged));
});
