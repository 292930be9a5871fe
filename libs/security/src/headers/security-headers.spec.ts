import { SecurityConfigError } from '../core/errors.js';
import type { HttpRequestLike } from '../http/http-request.js';
import { resolveSecurityOptions } from '../options/resolve-security-options.js';
import type { ResolvedSecurityHeadersOptions, SecurityHeadersOptions } from '../options/security-options.js';
import {
  buildHeaderOverrides,
  buildSecurityHeaders,
  isSecureRequest,
  securityHeadersFor,
  type SecurityHeader,
} from './security-headers.js';

const DOCS_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const resolved = (headers: SecurityHeadersOptions = {}) =>
  resolveSecurityOptions({ headers }, {}).headers as ResolvedSecurityHeadersOptions;
const plan = (headers: SecurityHeadersOptions = {}) => buildSecurityHeaders(resolved(headers));
const asRecord = (headers: readonly SecurityHeader[]) =>
  Object.fromEntries(headers.map((header) => [header.name, header.value]));

describe('buildSecurityHeaders', () => {
  it('computes the API preset: helmet headers kept on purpose, X-Powered-By removed, Cache-Control added', () => {
    expect(asRecord(plan().headers)).toEqual({
      'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Origin-Agent-Cluster': '?1',
      'Referrer-Policy': 'strict-origin-when-cross-origin',
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'X-Permitted-Cross-Domain-Policies': 'none',
      'X-Powered-By': null,
      'X-XSS-Protection': '0',
      'Cache-Control': 'no-store',
    });
  });

  it('drops helmet defaults without value for an API and never sends HSTS in the default list', () => {
    const names = plan().headers.map((header) => header.name.toLowerCase());
    expect(names).not.toContain('x-dns-prefetch-control');
    expect(names).not.toContain('x-download-options');
    expect(names).not.toContain('cross-origin-embedder-policy');
    expect(names).not.toContain('strict-transport-security');
    expect(new Set(names).size).toBe(names.length);
  });

  it('keeps HSTS apart, as configured', () => {
    expect(plan().hsts).toEqual({ name: 'Strict-Transport-Security', value: 'max-age=31536000; includeSubDomains' });
    expect(plan({ hsts: { maxAge: '730d', includeSubDomains: true, preload: true } }).hsts?.value).toBe(
      'max-age=63072000; includeSubDomains; preload',
    );
    expect(plan({ hsts: { maxAge: '1d', includeSubDomains: false } }).hsts?.value).toBe('max-age=86400');
    expect(plan({ hsts: false }).hsts).toBeUndefined();
  });

  it('applies the options: frame options, referrer policy (a fallback list), cache control, CSP', () => {
    const custom = asRecord(
      plan({
        frameOptions: 'SAMEORIGIN',
        referrerPolicy: 'no-referrer, strict-origin-when-cross-origin',
        cacheControl: 'private, max-age=0',
        contentSecurityPolicy: "default-src 'self';img-src 'self' data:;  upgrade-insecure-requests;",
      }).headers,
    );
    expect(custom['X-Frame-Options']).toBe('SAMEORIGIN');
    expect(custom['Referrer-Policy']).toBe('no-referrer,strict-origin-when-cross-origin');
    expect(custom['Cache-Control']).toBe('private, max-age=0');
    expect(custom['Content-Security-Policy']).toBe(
      "default-src 'self'; img-src 'self' data:; upgrade-insecure-requests",
    );
    const off = asRecord(plan({ frameOptions: false, cacheControl: false }).headers);
    expect(off).not.toHaveProperty('X-Frame-Options');
    expect(off).not.toHaveProperty('Cache-Control');
  });

  it('builds the relaxed lists: the whole preset with the prefix policy, longest prefix first', () => {
    const built = plan({ relaxedPaths: { '/docs': DOCS_POLICY, '/docs/internal/': "default-src 'self'" } });
    expect(built.relaxed.map((entry) => entry.prefix)).toEqual(['/docs/internal', '/docs']);
    const docs = asRecord(built.relaxed[1]!.headers);
    expect(docs).toEqual({ ...asRecord(built.headers), 'Content-Security-Policy': DOCS_POLICY });
  });

  it.each([
    ["default-src self; frame-ancestors 'none'", /should be quoted/],
    ["default-src 'none', script-src 'self'", /invalid directive value/],
    ["default-src 'none'; default-src 'self'", /appears twice/],
    ["frame-ancestors 'none'", /needs a default-src/],
    ["default-src 'none'; Script_Src 'self'", /invalid directive name/],
  ])('refuses the policy %j at boot', (policy, message) => {
    const attempt = () => plan({ contentSecurityPolicy: policy });
    expect(attempt).toThrow(SecurityConfigError);
    expect(attempt).toThrow(message);
  });

  it('refuses a bad relaxed policy and an unknown referrer token at boot', () => {
    expect(() => plan({ relaxedPaths: { '/docs': 'default-src none' } })).toThrow(/relaxedPaths\["\/docs"\]/);
    expect(() => plan({ referrerPolicy: 'strict-origin-when-crossorigin' })).toThrow(SecurityConfigError);
  });
});

describe('securityHeadersFor', () => {
  const built = plan({ relaxedPaths: { '/docs': DOCS_POLICY, '/docs/internal': "default-src 'self'" } });
  const cspFor = (path: string) => asRecord(securityHeadersFor(built, path))['Content-Security-Policy'];

  it.each(['/docs', '/docs/', '/docs/swagger-ui.css', '/docs/swagger-ui-init.js'])('relaxes %s', (path) => {
    expect(cspFor(path)).toBe(DOCS_POLICY);
  });

  it.each(['/docs-json', '/docsx', '/api/docs', '/', '/Docs', '/health'])('keeps the strict policy on %s', (path) => {
    expect(cspFor(path)).toBe("default-src 'none'; frame-ancestors 'none'");
  });

  it('takes the longest matching prefix', () => {
    expect(cspFor('/docs/internal/x')).toBe("default-src 'self'");
    expect(cspFor('/docs/internals')).toBe(DOCS_POLICY);
  });

  it('treats "/" as every path', () => {
    const all = plan({ relaxedPaths: { '/': "default-src 'self'" } });
    expect(asRecord(securityHeadersFor(all, '/anything'))['Content-Security-Policy']).toBe("default-src 'self'");
  });
});

describe('buildHeaderOverrides', () => {
  it('renders each override like the preset, false removing the header', () => {
    expect(
      buildHeaderOverrides({
        contentSecurityPolicy: "default-src 'self';frame-ancestors 'self'",
        cacheControl: 'public, max-age=60',
        frameOptions: 'SAMEORIGIN',
        referrerPolicy: 'no-referrer',
      }),
    ).toEqual([
      { name: 'Content-Security-Policy', value: "default-src 'self'; frame-ancestors 'self'" },
      { name: 'Cache-Control', value: 'public, max-age=60' },
      { name: 'X-Frame-Options', value: 'SAMEORIGIN' },
      { name: 'Referrer-Policy', value: 'no-referrer' },
    ]);
    expect(buildHeaderOverrides({ cacheControl: false, frameOptions: false })).toEqual([
      { name: 'Cache-Control', value: null },
      { name: 'X-Frame-Options', value: null },
    ]);
    expect(buildHeaderOverrides({})).toEqual([]);
  });

  it.each([
    [{ contentSecurityPolicy: "default-src 'none'; script-src self" }, /should be quoted/],
    [{ cacheControl: 'no-store\r\nSet-Cookie: a=b' }, /one line/],
    [{ frameOptions: 'ALLOW-FROM https://a.example' }, /DENY/],
    [{ referrerPolicy: 'always' }, /unexpected policy token/],
    [{ hsts: false }, /unknown option/],
  ])('refuses %j', (overrides, message) => {
    const attempt = () => buildHeaderOverrides(overrides as never);
    expect(attempt).toThrow(SecurityConfigError);
    expect(attempt).toThrow(message);
  });
});

describe('isSecureRequest', () => {
  const request = (
    remoteAddress: string | undefined,
    headers: Record<string, string | string[]> = {},
    encrypted = false,
  ): HttpRequestLike => ({ headers, socket: { remoteAddress, encrypted } as { remoteAddress?: string } });

  it('is true on a TLS socket, whatever the headers say', () => {
    expect(isSecureRequest(request('203.0.113.7', { 'x-forwarded-proto': 'http' }, true), false)).toBe(true);
  });

  it('reads the socket of the raw request behind a Fastify request', () => {
    const raw = request('203.0.113.7', {}, true);
    expect(isSecureRequest({ headers: {}, raw }, false)).toBe(true);
  });

  it('ignores X-Forwarded-Proto when no proxy is trusted, or the peer is not one', () => {
    const spoofed = request('203.0.113.7', { 'x-forwarded-proto': 'https' });
    expect(isSecureRequest(spoofed, false)).toBe(false);
    expect(isSecureRequest(spoofed, ['10.0.0.0/8'])).toBe(false);
    expect(isSecureRequest(request(undefined, { 'x-forwarded-proto': 'https' }), 1)).toBe(false);
  });

  it('believes a trusted proxy, by address (IPv4-mapped too) or by hop count', () => {
    const https = { 'x-forwarded-proto': 'https' };
    expect(isSecureRequest(request('10.0.0.2', https), ['10.0.0.0/8'])).toBe(true);
    expect(isSecureRequest(request('::ffff:10.0.0.2', https), ['10.0.0.0/8'])).toBe(true);
    expect(isSecureRequest(request('127.0.0.1', { 'x-forwarded-proto': ' HTTPS ' }), ['127.0.0.1'])).toBe(true);
    expect(isSecureRequest(request('203.0.113.9', https), 1)).toBe(true);
    expect(isSecureRequest(request('10.0.0.2', { 'x-forwarded-proto': 'http' }), ['10.0.0.0/8'])).toBe(false);
    expect(isSecureRequest(request('10.0.0.2'), ['10.0.0.0/8'])).toBe(false);
  });

  it('reads the entry of the proxy the client connected to, not one the client wrote', () => {
    // The client sent `X-Forwarded-Proto: https` over plain HTTP; the trusted proxy appended `http`.
    const forged = { 'x-forwarded-proto': 'https, http', 'x-forwarded-for': '203.0.113.7' };
    expect(isSecureRequest(request('10.0.0.2', forged), ['10.0.0.0/8'])).toBe(false);
    expect(isSecureRequest(request('10.0.0.2', forged), 1)).toBe(false);
    // The same, with the header repeated instead of joined.
    const repeated = { 'x-forwarded-proto': ['https', 'http'], 'x-forwarded-for': '203.0.113.7' };
    expect(isSecureRequest(request('10.0.0.2', repeated), ['10.0.0.0/8'])).toBe(false);
  });

  it('walks a chain of trusted proxies to the outermost one (CDN over HTTPS, then a balancer over HTTP)', () => {
    const chain = { 'x-forwarded-proto': 'https, http', 'x-forwarded-for': '203.0.113.7, 10.0.0.3' };
    expect(isSecureRequest(request('10.0.0.2', chain), ['10.0.0.0/8'])).toBe(true);
    expect(isSecureRequest(request('10.0.0.2', chain), 2)).toBe(true);
    // Only the balancer is trusted: its own `http` entry decides.
    expect(isSecureRequest(request('10.0.0.2', chain), ['10.0.0.2'])).toBe(false);
    expect(isSecureRequest(request('10.0.0.2', chain), 1)).toBe(false);
    // A forged entry further left than the outermost trusted proxy is never read.
    const forged = { 'x-forwarded-proto': 'https, http, http', 'x-forwarded-for': '203.0.113.7, 10.0.0.3' };
    expect(isSecureRequest(request('10.0.0.2', forged), ['10.0.0.0/8'])).toBe(false);
  });

  it('takes the one entry of proxies that overwrite the header instead of appending', () => {
    const overwritten = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7, 10.0.0.3' };
    expect(isSecureRequest(request('10.0.0.2', overwritten), ['10.0.0.0/8'])).toBe(true);
  });

  it('stops at a malformed X-Forwarded-For hop', () => {
    const garbage = { 'x-forwarded-proto': 'https, http', 'x-forwarded-for': '203.0.113.7, not-an-ip' };
    expect(isSecureRequest(request('10.0.0.2', garbage), ['10.0.0.0/8'])).toBe(false);
  });

  it('asks the trust list about the exact peer, even one equal to the probe address', () => {
    const https = { 'x-forwarded-proto': 'https' };
    expect(isSecureRequest(request('192.0.2.1', https), ['192.0.2.1'])).toBe(true);
    expect(isSecureRequest(request('192.0.2.1', https), ['192.0.2.2'])).toBe(false);
    expect(isSecureRequest(request('192.0.2.2', https), ['192.0.2.1'])).toBe(false);
  });
});
