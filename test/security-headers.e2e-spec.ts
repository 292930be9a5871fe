import { request as httpRequest } from 'node:http';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { collectResponse, send, type WireResponse } from './support/signing.js';
import { PRESET, STRICT_CSP, securityHeadersOf } from '../libs/security/test/support/security-headers.js';

/** Security headers on every kind of answer of the demo, including the ones its parsers and limits write. */
describe.each(ADAPTERS)('security headers on %s', (adapter) => {
  let server: RunningDemo;

  beforeAll(async () => {
    server = await startDemo(adapter);
  });
  afterAll(async () => {
    await server?.close();
  });

  const get = (target: string, headers: Record<string, string> = {}) =>
    send(server.baseUrl, { method: 'GET', target, headers });

  it('200: a public route', async () => {
    const response = await get('/health');
    expect(response.status).toBe(200);
    expect(securityHeadersOf(response)).toEqual(PRESET);
  });

  it('401: a route that needs credentials', async () => {
    const response = await get('/me');
    expect(response.status).toBe(401);
    expect(securityHeadersOf(response)).toEqual(PRESET);
  });

  it('404: an unknown route', async () => {
    const response = await get('/no/such/route');
    expect(response.status).toBe(404);
    expect(securityHeadersOf(response)).toEqual(PRESET);
  });

  it('413: a body refused by the parser from its Content-Length, before any guard', async () => {
    const response = await new Promise<WireResponse>((resolve, reject) => {
      const url = new URL(server.baseUrl);
      const outgoing = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path: '/users',
          headers: { 'content-type': 'application/json', 'content-length': '5000000' },
        },
        (incoming) => collectResponse(incoming).then(resolve, reject),
      );
      outgoing.once('error', reject);
      outgoing.write('{"a":');
    });
    expect(response.status).toBe(413);
    expect(securityHeadersOf(response)).toEqual(PRESET);
  });

  it('431: a header block over the limit, answered by the server itself', async () => {
    const response = await get('/health', { 'x-padding': 'a'.repeat(20_000) });
    expect(response.status).toBe(431);
    expect(securityHeadersOf(response)).toEqual(PRESET);
  });

  it('500: an unexpected error', async () => {
    const response = await get('/__test/boom');
    expect(response.status).toBe(500);
    expect(securityHeadersOf(response)).toEqual(PRESET);
  });

  it('relaxes the Content-Security-Policy for the API explorer under /docs only', async () => {
    const page = await get('/docs/');
    expect(page.status).toBe(200);
    expect(String(page.headers['content-type'])).toMatch(/^text\/html/);
    const relaxed = securityHeadersOf(page);
    expect(relaxed).toEqual({ ...PRESET, 'content-security-policy': expect.stringContaining("script-src 'self'") });
    expect(relaxed['content-security-policy']).toMatch(/^default-src 'none';/);
    expect(relaxed['content-security-policy']).toContain("frame-ancestors 'none'");
    const asset = await get('/docs/swagger-ui.css');
    expect(asset.status).toBe(200);
    expect(asset.headers['content-security-policy']).toBe(relaxed['content-security-policy']);
    // Not a segment of /docs: the OpenAPI document is JSON and keeps the API policy.
    const document = await get('/docs-json');
    expect(document.status).toBe(200);
    expect(document.headers['content-security-policy']).toBe(STRICT_CSP);
    // Swagger UI is mounted before the module's hooks are installed; the request id reaches it all the same.
    for (const response of [page, asset, document]) expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('never sends HSTS over plain HTTP, whatever an untrusted client claims', async () => {
    const response = await get('/health', { 'x-forwarded-proto': 'https' });
    expect(response.headers['strict-transport-security']).toBeUndefined();
  });
});

describe.each(ADAPTERS)('security headers on a 429 on %s', (adapter) => {
  let server: RunningDemo;

  beforeAll(async () => {
    server = await startDemo(adapter, { RATE_LIMIT_IP: '2/60s' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('429: the IP rate limit refuses', async () => {
    const get = () => send(server.baseUrl, { method: 'GET', target: '/health', headers: {} });
    let response = await get();
    for (let attempt = 0; attempt < 5 && response.status !== 429; attempt++) response = await get();
    expect(response.status).toBe(429);
    expect(securityHeadersOf(response)).toEqual(PRESET);
  });
});
