import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';

const PROBLEM_JSON = /^application\/problem\+json/;
// Bodies are checked field by field below, so `any` is the honest type here.
const jsonOf = async (response: Response): Promise<any> => response.json();

describe.each(ADAPTERS)('foundation over HTTP on %s', (adapter) => {
  let server: RunningDemo;

  beforeAll(async () => {
    server = await startDemo(adapter);
  });
  afterAll(async () => {
    await server?.close();
  });

  const get = (path: string, init?: RequestInit) => fetch(`${server.baseUrl}${path}`, init);

  it('GET /health answers 200 with the state of each store', async () => {
    const response = await get('/health');
    expect(response.status).toBe(200);
    expect(await jsonOf(response)).toEqual({ status: 'ok', database: 'up', redis: 'memory' });
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('GET /health/ready answers 200 while the database is up', async () => {
    const response = await get('/health/ready');
    expect(response.status).toBe(200);
  });

  it('an unknown route answers a 404 problem without echoing the path', async () => {
    const response = await get('/no/such/route?token=abc');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(PROBLEM_JSON);
    const body = await jsonOf(response);
    expect(body).toMatchObject({ status: 404, title: 'Not Found', instance: '/no/such/route' });
    expect(body.type).toBe('urn:problem-type:not-found');
    expect(body.request_id).toBe(response.headers.get('x-request-id'));
    expect(JSON.stringify(body)).not.toContain('token=abc');
  });

  it('GET /me without credentials answers a 401 problem with WWW-Authenticate', async () => {
    const response = await get('/me');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(
      'ApiKey realm="api", Signature realm="api", Bearer realm="api"',
    );
    expect(response.headers.get('content-type')).toMatch(PROBLEM_JSON);
    const body = await jsonOf(response);
    expect(Object.keys(body).sort()).toEqual(['detail', 'instance', 'request_id', 'status', 'title', 'type']);
    expect(body).toMatchObject({ status: 401, title: 'Unauthorized', instance: '/me' });
  });

  it('two 401 answers differ only in request_id', async () => {
    const [a, b] = await Promise.all([get('/me'), get('/me')]);
    const [bodyA, bodyB] = [await jsonOf(a), await jsonOf(b)];
    expect(bodyA.request_id).not.toBe(bodyB.request_id);
    expect({ ...bodyA, request_id: undefined }).toEqual({ ...bodyB, request_id: undefined });
  });

  it('malformed JSON answers a 400 problem without parser internals', async () => {
    const response = await get('/me', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name": "x",',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(PROBLEM_JSON);
    const body = await jsonOf(response);
    expect(body.type).toBe('urn:problem-type:malformed-body');
    expect(body.detail).toBe('The request body could not be parsed.');
    expect(response.headers.get('x-request-id')).toBe(body.request_id);
  });

  it('an unexpected error answers a 500 problem with no stack, path or library name', async () => {
    const response = await get('/__test/boom');
    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toMatch(PROBLEM_JSON);
    const text = await response.text();
    const body = JSON.parse(text);
    expect(body).toMatchObject({ status: 500, title: 'Internal Server Error', instance: '/__test/boom' });
    expect(body.type).toBe('urn:problem-type:internal-error');
    for (const leak of [
      'internal detail',
      '/srv/app',
      'secret.ts',
      '    at ',
      'nest',
      'Nest',
      'Error:',
      'node_modules',
    ]) {
      expect(text).not.toContain(leak);
    }
  });

  it('keeps a well-formed inbound X-Request-Id and replaces a malformed one', async () => {
    const kept = await get('/health', { headers: { 'x-request-id': 'abc.DEF-123_x' } });
    expect(kept.headers.get('x-request-id')).toBe('abc.DEF-123_x');
    const replaced = await get('/me', { headers: { 'x-request-id': 'bad id <script>' } });
    const id = replaced.headers.get('x-request-id');
    expect(id).not.toContain('<script>');
    expect((await jsonOf(replaced)).request_id).toBe(id);
  });

  it('serves the OpenAPI document with the security schemes declared', async () => {
    const response = await get('/docs-json');
    expect(response.status).toBe(200);
    const document = await jsonOf(response);
    expect(document.components.securitySchemes.ApiKey).toMatchObject({
      type: 'apiKey',
      in: 'header',
      name: 'X-API-Key',
    });
    expect(document.components.securitySchemes.OAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(Object.keys(document.paths)).toContain('/health');
    expect(Object.keys(document.paths)).not.toContain('/__test/boom');
  });

  it('records a failed authentication as an AUTH_FAILED audit row', async () => {
    const response = await get('/me', { headers: { 'x-request-id': `audit-${adapter}` } });
    expect(response.status).toBe(401);
    const dataSource = server.demo.app.get((await import('typeorm')).DataSource);
    await expect
      .poll(async () =>
        dataSource.query('SELECT type, outcome, status, path, details FROM audit_events WHERE request_id = $1', [
          `audit-${adapter}`,
        ]),
      )
      .toEqual([
        {
          type: 'AUTH_FAILED',
          outcome: 'denied',
          status: 401,
          path: '/me',
          details: expect.objectContaining({ code: 'ERR_SECURITY_AUTHENTICATION_REQUIRED' }),
        },
      ]);
  });
});
