import type { IncomingHttpHeaders } from 'node:http';
import { Clock } from '@app/security';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { createIdentity, type Identity } from './support/identities.js';
import { send, type WireResponse } from './support/signing.js';

// Black-box CORS over raw HTTP (node:http sends Origin and the preflight headers exactly as given; fetch
// would not be a browser here either). What a browser does with the answers is decided by these headers.

const APP = 'https://app.example.com';
const DEV = 'http://localhost:5173';
const ALL_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';
const EXPOSED = [
  'ratelimit',
  'ratelimit-policy',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'retry-after',
  'deprecation',
  'sunset',
  'link',
  'warning',
  'x-request-id',
];
const PHASE_TIMEOUT_MS = 30_000;

/** The names of the Access-Control-* headers of a response. */
const corsHeaderNames = (headers: IncomingHttpHeaders) =>
  Object.keys(headers).filter((name) => name.startsWith('access-control-'));
const varyOf = (response: WireResponse) =>
  String(response.headers.vary ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase());
const exposedOf = (response: WireResponse) =>
  String(response.headers['access-control-expose-headers'] ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase());

const get = (server: RunningDemo, path: string, headers: Record<string, string> = {}) =>
  send(server.baseUrl, { method: 'GET', target: path, headers });
const preflight = (server: RunningDemo, path: string, origin: string, method: string, requestHeaders?: string) =>
  send(server.baseUrl, {
    method: 'OPTIONS',
    target: path,
    headers: {
      origin,
      'access-control-request-method': method,
      ...(requestHeaders === undefined ? {} : { 'access-control-request-headers': requestHeaders }),
    },
  });

/** A CORS answer a browser accepts for `origin`, with credentials as configured. */
function expectGranted(response: WireResponse, origin: string, credentials: boolean): void {
  expect(response.headers['access-control-allow-origin']).toBe(origin);
  expect(response.headers['access-control-allow-credentials']).toBe(credentials ? 'true' : undefined);
  expect(varyOf(response)).toContain('origin');
}

/** No CORS grant at all: the browser keeps the answer from the page. */
function expectNoCors(response: WireResponse): void {
  expect(corsHeaderNames(response.headers)).toEqual([]);
  expect(varyOf(response)).toContain('origin');
}

/** An actual response's grant: the origin, credentials, and every rate-limit/deprecation/id header readable. */
function expectReadable(response: WireResponse, origin: string, credentials: boolean): void {
  expectGranted(response, origin, credentials);
  expect(exposedOf(response)).toEqual(EXPOSED);
  // Every such header this response carries is one scripts may read.
  const present = Object.keys(response.headers).filter((name) => EXPOSED.includes(name));
  expect(present).toContain('x-request-id');
  for (const name of present) expect(exposedOf(response)).toContain(name);
}

describe.each(ADAPTERS)('CORS on %s', (adapter) => {
  describe('an allow-list with credentials (CORS_ORIGINS, CORS_CREDENTIALS=true)', () => {
    let server: RunningDemo;
    let viewer: Identity;
    let editor: Identity;

    beforeAll(async () => {
      server = await startDemo(adapter, {
        CORS_ORIGINS: `${APP},${DEV}`,
        CORS_CREDENTIALS: 'true',
        RATE_LIMIT_LOGIN: '1/300s',
      });
      viewer = await createIdentity(server.demo.app, ['viewer']);
      editor = await createIdentity(server.demo.app, ['editor']);
    }, PHASE_TIMEOUT_MS);
    afterAll(() => server?.close(), PHASE_TIMEOUT_MS);

    it('lets a listed origin read an answer, with credentials and the rate-limit and id headers', async () => {
      const response = await get(server, '/me', { origin: APP, 'x-api-key': viewer.key });
      expect(response.status).toBe(200);
      expect(response.json().principalId).toBe(viewer.id);
      expect(response.headers.ratelimit).toBeDefined();
      expectReadable(response, APP, true);
      expectReadable(await get(server, '/health', { origin: DEV }), DEV, true);
    });

    it('covers what was mounted before the module was configured (Swagger UI on Express)', async () => {
      expectReadable(await get(server, '/docs-json', { origin: APP }), APP, true);
    });

    it('answers with the configured origin, not the text of the request (default port)', async () => {
      const response = await get(server, '/health', { origin: 'https://app.example.com:443' });
      expectGranted(response, APP, true);
      expect(response.headers['access-control-allow-origin']).toBe(APP);
    });

    it.each([
      ['another site', 'https://evil.example'],
      ['the null origin', 'null'],
      ['a listed origin as a subdomain of another site', 'https://app.example.com.evil.example'],
      ['a prefix trick', 'https://app.example.comevil.com'],
      ['a suffix trick', 'https://evilapp.example.com'],
      ['a subdomain of a listed origin', 'https://api.app.example.com'],
      ['another scheme', 'http://app.example.com'],
      ['another port', 'https://app.example.com:8443'],
      ['a listed local origin on another port', 'http://localhost:5174'],
      ['user info', 'https://app.example.com@evil.example'],
      ['a trailing slash', 'https://app.example.com/'],
      ['two origins in one header', `${APP}, https://evil.example`],
    ])('gives %s (%s) no CORS header, only Vary: Origin', async (_label, origin) => {
      const response = await get(server, '/health', { origin });
      expect(response.status).toBe(200);
      expectNoCors(response);
      const refusedPreflight = await preflight(server, '/documents', origin, 'POST', 'content-type');
      expect(refusedPreflight.status).toBe(204);
      expectNoCors(refusedPreflight);
    });

    it('adds Vary: Origin to answers without an Origin header (a cache must not hand them to a page)', async () => {
      const response = await get(server, '/health');
      expectNoCors(response);
    });

    it('answers an allowed preflight with 204 before any guard: configured methods, requested headers, max-age', async () => {
      // GET /me needs a key; the preflight carries none and still gets its answer.
      const response = await preflight(server, '/me', APP, 'GET', 'X-API-Key');
      expect(response.status).toBe(204);
      expect(response.body.length).toBe(0);
      expectGranted(response, APP, true);
      expect(response.headers['access-control-allow-methods']).toBe(ALL_METHODS);
      expect(response.headers['access-control-allow-headers']).toBe('x-api-key');
      expect(response.headers['access-control-max-age']).toBe('600');
      expect(response.headers['access-control-expose-headers']).toBeUndefined();
      expect(varyOf(response)).toEqual(
        expect.arrayContaining(['origin', 'access-control-request-method', 'access-control-request-headers']),
      );
      expect(response.headers['x-request-id']).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
      // The security headers hook runs first, so preflight answers carry its headers too.
      expect(response.headers['x-content-type-options']).toBe('nosniff');
    });

    it('answers preflights for signed and unknown routes the same way', async () => {
      const signed = await preflight(
        server,
        '/payments',
        APP,
        'POST',
        'content-type,x-key-id,x-timestamp,x-nonce,x-signed-headers,x-signature,x-api-key',
      );
      expect(signed.status).toBe(204);
      expectGranted(signed, APP, true);
      expect(signed.headers['access-control-allow-headers']).toBe(
        'content-type, x-key-id, x-timestamp, x-nonce, x-signed-headers, x-signature, x-api-key',
      );
      const unknown = await preflight(server, '/no/such/route', DEV, 'DELETE');
      expect(unknown.status).toBe(204);
      expectGranted(unknown, DEV, true);
      expect(unknown.headers['access-control-allow-headers']).toBeUndefined();
    });

    it.each([
      ['an unlisted method', 'TRACE', undefined],
      ['a method in lower case', 'put', undefined],
      ['an unlisted header', 'POST', 'x-evil'],
      ['one unlisted header among allowed ones', 'PUT', 'content-type, x-evil, x-api-key'],
      ['a cookie header', 'GET', 'cookie'],
    ])('refuses a preflight with %s: 204 and no Access-Control-* header', async (_label, method, headers) => {
      const response = await preflight(server, '/documents', APP, method, headers);
      expect(response.status).toBe(204);
      expect(response.body.length).toBe(0);
      expectNoCors(response);
    });

    it('keeps CORS headers on a 401 so the page can read the problem', async () => {
      const response = await get(server, '/me', { origin: APP });
      expect(response.status).toBe(401);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.headers['www-authenticate']).toBeDefined();
      expect(response.json().status).toBe(401);
      expectReadable(response, APP, true);
    });

    it('keeps CORS headers on a 404 for an unknown route and on a 404 of a route', async () => {
      const unknown = await get(server, '/no/such/route', { origin: APP, 'x-api-key': viewer.key });
      expect(unknown.status).toBe(404);
      expectReadable(unknown, APP, true);
      const missing = await get(server, '/documents/00000000-0000-4000-8000-000000000000', {
        origin: DEV,
        'x-api-key': viewer.key,
      });
      expect(missing.status).toBe(404);
      expectReadable(missing, DEV, true);
    });

    it('keeps CORS headers on a 413 from the body parser', async () => {
      const response = await send(server.baseUrl, {
        method: 'POST',
        target: '/users',
        headers: { origin: APP, 'x-api-key': editor.key, 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify({ username: 'x'.repeat(2 * 1024 * 1024) })),
      });
      expect(response.status).toBe(413);
      expectReadable(response, APP, true);
    });

    it('keeps CORS headers on a 429, with Retry-After readable', async () => {
      // One login per 300 s window: the clock is pinned so no window boundary falls between the two.
      const now = vi
        .spyOn(server.demo.app.get(Clock), 'now')
        .mockReturnValue(Math.floor(Date.now() / 3_600_000) * 3_600_000);
      try {
        const login = () =>
          send(server.baseUrl, {
            method: 'POST',
            target: '/login',
            headers: { origin: APP, 'content-type': 'application/json' },
            body: Buffer.from(JSON.stringify({ username: 'nobody-here', password: 'wrong password' })),
          });
        const first = await login();
        expect(first.status).toBe(401);
        expectReadable(first, APP, true);
        const refused = await login();
        expect(refused.status).toBe(429);
        expect(refused.headers['retry-after']).toMatch(/^\d+$/);
        expectReadable(refused, APP, true);
        expect(exposedOf(refused)).toContain('retry-after');
      } finally {
        now.mockRestore();
      }
    });

    it('gives a refused origin no CORS header on error answers either', async () => {
      const response = await get(server, '/me', { origin: 'https://evil.example' });
      expect(response.status).toBe(401);
      expectNoCors(response);
    });
  });

  describe('every origin (CORS_ORIGINS=*), so no credentials', () => {
    let server: RunningDemo;

    beforeAll(async () => {
      server = await startDemo(adapter, { CORS_ORIGINS: '*' });
    }, PHASE_TIMEOUT_MS);
    afterAll(() => server?.close(), PHASE_TIMEOUT_MS);

    it('answers * to any origin, never with credentials', async () => {
      for (const origin of [APP, 'https://evil.example', 'null']) {
        const response = await get(server, '/health', { origin });
        expectReadable(response, '*', false);
      }
      const unauthenticated = await get(server, '/me', { origin: 'https://evil.example' });
      expect(unauthenticated.status).toBe(401);
      expectReadable(unauthenticated, '*', false);
    });

    it('grants preflights only the configured methods and headers, without credentials', async () => {
      const granted = await preflight(
        server,
        '/documents',
        'https://evil.example',
        'POST',
        'authorization, content-type',
      );
      expect(granted.status).toBe(204);
      expectGranted(granted, '*', false);
      expect(granted.headers['access-control-allow-methods']).toBe(ALL_METHODS);
      expect(granted.headers['access-control-allow-headers']).toBe('authorization, content-type');
      expect(granted.headers['access-control-max-age']).toBe('600');
      const refused = await preflight(server, '/documents', 'https://evil.example', 'POST', 'x-evil');
      expect(refused.status).toBe(204);
      expectNoCors(refused);
    });

    it('sends no Access-Control-Allow-Origin without an Origin header', async () => {
      expectNoCors(await get(server, '/health'));
    });
  });

  describe('no origins configured (the default)', () => {
    let server: RunningDemo;

    beforeAll(async () => {
      server = await startDemo(adapter);
    }, PHASE_TIMEOUT_MS);
    afterAll(() => server?.close(), PHASE_TIMEOUT_MS);

    it('grants no origin and leaves preflights to the routes (no hook, no Vary)', async () => {
      const response = await get(server, '/health', { origin: APP });
      expect(response.status).toBe(200);
      expect(corsHeaderNames(response.headers)).toEqual([]);
      expect(varyOf(response)).not.toContain('origin');
      const refused = await preflight(server, '/me', APP, 'GET', 'x-api-key');
      expect(corsHeaderNames(refused.headers)).toEqual([]);
      expect(refused.status).not.toBe(204);
    });
  });
});
