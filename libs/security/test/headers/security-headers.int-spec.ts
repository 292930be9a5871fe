import type { INestApplication } from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import { SecurityHeaders } from '../../src/headers/security-headers.decorator.js';
import { SecurityConfigError } from '../../src/core/errors.js';
import type { SecurityModuleOptions } from '../../src/options/security-options.js';
import { HeadersFixtureModule } from './fixtures.js';
import { PRESET, STRICT_CSP, securityHeadersOf } from '../support/security-headers.js';

const ADAPTERS: ReadonlyArray<[string, () => AbstractHttpAdapter]> = [
  ['express', () => new ExpressAdapter()],
  ['fastify', () => new FastifyAdapter()],
];

const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

async function start(makeAdapter: () => AbstractHttpAdapter, options: SecurityModuleOptions = {}, both = false) {
  const app = await NestFactory.create(HeadersFixtureModule.register(options), makeAdapter(), { logger: false });
  if (both) app.useSecurityHeaders();
  // Added to the framework before Nest's init(), as SwaggerModule.setup() does: before the module's hook.
  app.getHttpAdapter().get('/early', (_request: unknown, response: unknown) => {
    app.getHttpAdapter().reply(response, 'early', 200);
  });
  await app.listen(0, '127.0.0.1');
  return { app, baseUrl: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}` };
}

describe.each(ADAPTERS)('security headers on %s', (_, makeAdapter) => {
  let app: INestApplication;
  let baseUrl: string;
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${baseUrl}${path}`, { headers });

  beforeAll(async () => {
    ({ app, baseUrl } = await start(makeAdapter, { trustProxy: ['127.0.0.1'] }));
  });
  afterAll(async () => {
    await app?.close();
  });

  it.each([
    ['/plain', 200],
    ['/nope', 404],
    ['/boom', 500],
  ])('writes exactly the preset on %s (%i), without X-Powered-By or HSTS over plain HTTP', async (path, status) => {
    const response = await get(path);
    expect(response.status).toBe(status);
    expect(securityHeadersOf(response)).toEqual(PRESET);
  });

  it('writes the preset on a route added to the framework before Nest initialised the module', async () => {
    const response = await get('/early');
    expect(response.status).toBe(200);
    expect(securityHeadersOf(response)).toEqual(PRESET);
  });

  it('relaxes the policy under /docs only', async () => {
    expect(securityHeadersOf(await get('/docs/page'))).toEqual({ ...PRESET, 'content-security-policy': DOCS_CSP });
    expect((await get('/docs/page?x=1')).headers.get('content-security-policy')).toBe(DOCS_CSP);
    expect((await get('/plain')).headers.get('content-security-policy')).toBe(STRICT_CSP);
  });

  it("applies a controller's @SecurityHeaders() and lets a route's own keys win", async () => {
    expect(securityHeadersOf(await get('/report/inherit'))).toEqual({
      ...PRESET,
      'cache-control': 'private, max-age=60',
      'x-frame-options': 'SAMEORIGIN',
    });
    const html = securityHeadersOf(await get('/report/html'));
    const { 'x-frame-options': _removed, ...withoutFrameOptions } = PRESET;
    expect(html).toEqual({
      ...withoutFrameOptions,
      'cache-control': 'private, max-age=60',
      'content-security-policy': "default-src 'self'; frame-ancestors 'self'",
    });
  });

  it("writes a route's overrides before the other guards refuse it (401)", async () => {
    const refused = await get('/private');
    expect(refused.status).toBe(401);
    // Problem answers are `no-store` whatever the route says; its other overrides stay.
    expect(securityHeadersOf(refused)).toEqual({ ...PRESET, 'referrer-policy': 'no-referrer' });
  });

  it("lets Nest's @Header() on a route replace a preset value", async () => {
    expect((await get('/cached')).headers.get('cache-control')).toBe('public, max-age=300');
  });

  it('sends HSTS when a trusted proxy says the client used HTTPS, and only then', async () => {
    const hsts = (headers: Record<string, string>) =>
      get('/plain', headers).then((r) => r.headers.get('strict-transport-security'));
    expect(await hsts({ 'x-forwarded-proto': 'https' })).toBe('max-age=31536000; includeSubDomains');
    expect(await hsts({})).toBeNull();
    expect(await hsts({ 'x-forwarded-proto': 'http' })).toBeNull();
    // The client wrote `https` itself; the proxy (127.0.0.1) appended the `http` it saw.
    expect(await hsts({ 'x-forwarded-proto': 'https, http', 'x-forwarded-for': '203.0.113.7' })).toBeNull();
    // HSTS is a property of the site: a 404 gets it as well.
    expect((await get('/nope', { 'x-forwarded-proto': 'https' })).headers.get('strict-transport-security')).toBe(
      'max-age=31536000; includeSubDomains',
    );
  });
});

describe.each(ADAPTERS)('security header options on %s', (_, makeAdapter) => {
  it('ignores X-Forwarded-Proto when no proxy is trusted', async () => {
    const { app, baseUrl } = await start(makeAdapter);
    try {
      const response = await fetch(`${baseUrl}/plain`, { headers: { 'x-forwarded-proto': 'https' } });
      expect(response.headers.get('strict-transport-security')).toBeNull();
    } finally {
      await app.close();
    }
  });

  it('writes the configured values, and nothing with headers: false but the routes that ask', async () => {
    const configured = await start(makeAdapter, {
      trustProxy: 1,
      headers: {
        frameOptions: false,
        cacheControl: 'no-cache',
        hsts: { maxAge: '2d', includeSubDomains: false },
        relaxedPaths: {},
      },
    });
    try {
      const response = await fetch(`${configured.baseUrl}/docs/page`, { headers: { 'x-forwarded-proto': 'https' } });
      const { 'x-frame-options': _removed, ...rest } = PRESET;
      expect(securityHeadersOf(response)).toEqual({
        ...rest,
        'cache-control': 'no-cache',
        'strict-transport-security': 'max-age=172800',
      });
    } finally {
      await configured.app.close();
    }
    const off = await start(makeAdapter, { headers: false });
    try {
      // Express's own X-Powered-By is left alone too: the preset is off.
      const poweredBy = makeAdapter() instanceof ExpressAdapter ? { 'x-powered-by': 'Express' } : {};
      expect(securityHeadersOf(await fetch(`${off.baseUrl}/plain`))).toEqual(poweredBy);
      expect(securityHeadersOf(await fetch(`${off.baseUrl}/report/html`))).toEqual({
        ...poweredBy,
        'cache-control': 'private, max-age=60',
        'content-security-policy': "default-src 'self'; frame-ancestors 'self'",
      });
    } finally {
      await off.app.close();
    }
  });

  it('refuses to boot on a policy helmet refuses', async () => {
    await expect(
      NestFactory.create(
        HeadersFixtureModule.register({
          headers: { contentSecurityPolicy: "default-src self; frame-ancestors 'none'" },
        }),
        makeAdapter(),
        { logger: false, abortOnError: false },
      ),
    ).rejects.toThrow(/should be quoted/);
  });

  // Both write on every response and neither knows the other. Which one wins a header both set depends on
  // the adapter (on Express the module's layer is moved first, so Nest's runs after it; on Fastify Nest's
  // hook is added first), and Nest's extra headers stay either way: HSTS over plain HTTP and the two
  // legacy headers the preset leaves out. The README says to use one of the two.
  it("mixes in Nest's own headers when app.useSecurityHeaders() is called too", async () => {
    const { app, baseUrl } = await start(makeAdapter, {}, true);
    try {
      const nestWins = makeAdapter() instanceof ExpressAdapter;
      expect(securityHeadersOf(await fetch(`${baseUrl}/plain`))).toEqual({
        ...PRESET,
        ...(nestWins
          ? {
              'content-security-policy': expect.stringMatching(/^default-src 'self';base-uri 'self';/),
              'referrer-policy': 'no-referrer',
              'x-frame-options': 'SAMEORIGIN',
            }
          : {}),
        'strict-transport-security': 'max-age=31536000; includeSubDomains',
        'x-dns-prefetch-control': 'off',
        'x-download-options': 'noopen',
      });
    } finally {
      await app.close();
    }
  });
});

describe('@SecurityHeaders()', () => {
  it.each([
    { contentSecurityPolicy: "default-src 'none'; script-src self" },
    { cacheControl: 'no-store\nX-Injected: 1' },
    { frameOptions: 'ALLOW-FROM https://a.example' },
    { referrerPolicy: 'always' },
    { hsts: false },
  ])('refuses %j when the class is declared', (overrides) => {
    expect(() => SecurityHeaders(overrides as never)).toThrow(SecurityConfigError);
  });
});
