import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { eventOf } from './support/events.js';
import { createIdentity, type Identity } from './support/identities.js';
import { collectResponse, send, type WireResponse } from './support/signing.js';

const PROBLEM_JSON = /^application\/problem\+json/;

/** Size and shape limits, prototype pollution, media types and the header limit, over HTTP. */
describe.each(ADAPTERS)('input limits on %s', (adapter) => {
  let server: RunningDemo;
  let admin: Identity;

  beforeAll(async () => {
    server = await startDemo(adapter);
    admin = await createIdentity(server.demo.app, ['admin']);
  });
  afterAll(async () => {
    await server?.close();
  });

  const post = (target: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    send(server.baseUrl, {
      method: 'POST',
      target,
      headers: { 'content-type': 'application/json', 'x-api-key': admin.key, ...headers },
      body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    });
  const get = (target: string, headers: Record<string, string> = {}) =>
    send(server.baseUrl, { method: 'GET', target, headers: { 'x-api-key': admin.key, ...headers } });

  async function expectServing(): Promise<void> {
    const me = await get('/me');
    expect(me.status).toBe(200);
    const created = await post('/users', JSON.stringify({ username: `still_${Date.now()}` }));
    expect(created.status).toBe(201);
  }

  function expectProblem(response: WireResponse, status: number, type: string): any {
    expect(response.status).toBe(status);
    expect(String(response.headers['content-type'])).toMatch(PROBLEM_JSON);
    const body = response.json();
    expect(body).toMatchObject({ status, type: `urn:problem-type:${type}` });
    expect(body.request_id).toBe(response.requestId);
    return body;
  }

  it('answers 413 to a 2 MB body, and the next request works', async () => {
    const huge = JSON.stringify({ username: 'x'.repeat(2 * 1024 * 1024) });
    expectProblem(await post('/users', huge), 413, 'payload-too-large');
    await expectServing();
  });

  it('answers 413 from Content-Length alone, before the body arrives', async () => {
    // The declared length is over the limit; only a few bytes follow. Waiting for the rest would hang.
    const response = await new Promise<WireResponse>((resolve, reject) => {
      const url = new URL(server.baseUrl);
      const outgoing = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path: '/users',
          headers: { 'content-type': 'application/json', 'content-length': '5000000', 'x-api-key': admin.key },
        },
        (incoming) => collectResponse(incoming).then(resolve, reject),
      );
      outgoing.once('error', reject);
      outgoing.write('{"a":');
    });
    expectProblem(response, 413, 'payload-too-large');
    await expectServing();
  });

  it('takes a larger body where the route says so (@BodyLimit) and only there', async () => {
    // 60,000 two-byte characters: 120 KB on the wire, over the 100 KB default, under documents' 256 KB.
    const text = 'é'.repeat(60_000);
    const document = await post('/documents', JSON.stringify({ title: 'big', body: text }));
    expect(document.status).toBe(201);
    expect(document.json().body).toBe(text);
    expectProblem(
      await post('/users', JSON.stringify({ username: 'big', department: text })),
      413,
      'payload-too-large',
    );
  });

  it('answers 400 to a 10,000-deep array, and the next request works', async () => {
    const deep = `{"username":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
    const body = expectProblem(await post('/users', deep), 400, 'invalid-request');
    expect(body.invalid_params[0].reason).toMatch(/deep/i);
    await expectServing();
  });

  it('answers 400 to an array or an object over its length limit', async () => {
    const long = JSON.stringify({ username: 'abc', roles: Array.from({ length: 1001 }, () => 'viewer') });
    expect(expectProblem(await post('/users', long), 400, 'invalid-request').invalid_params[0].name).toBe('body.roles');
    const wide = JSON.stringify(Object.fromEntries(Array.from({ length: 1001 }, (_, index) => [`k${index}`, 1])));
    expectProblem(await post('/users', wide), 400, 'invalid-request');
  });

  it.each([
    ['top level', '{"username":"proto_a","__proto__":{"polluted":"yes"}}'],
    ['nested', '{"username":"proto_b","attributes":{"a":{"__proto__":{"polluted":"yes"}}}}'],
    ['constructor.prototype', '{"username":"proto_c","x":{"constructor":{"prototype":{"polluted":"yes"}}}}'],
    ['escaped key', '{"username":"proto_d","\\u005f_proto__":{"polluted":"yes"}}'],
    ['inside an array', '{"username":"proto_e","roles":[{"prototype":{"polluted":"yes"}}]}'],
  ])('refuses prototype pollution in a JSON body (%s) with 400, polluting nothing', async (_case, text) => {
    const body = expectProblem(await post('/users', text), 400, 'invalid-request');
    expect(body.invalid_params[0].reason).toBe('is a forbidden key');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it.each([
    '/documents?__proto__[polluted]=yes',
    '/documents?constructor[prototype][polluted]=yes',
    '/documents?search[__proto__]=yes',
    '/documents?a.__proto__.polluted=yes',
    '/documents?%5F%5Fproto%5F%5F=yes',
  ])('refuses prototype pollution in the query string %s with 400', async (target) => {
    expectProblem(await get(target), 400, 'invalid-request');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a query string with more parameters than the limit', async () => {
    const query = Array.from({ length: 101 }, (_, index) => `p${index}=1`).join('&');
    expectProblem(await get(`/documents?${query}`), 400, 'invalid-request');
  });

  it('answers malformed JSON with a 400 problem', async () => {
    expectProblem(await post('/users', '{"username": "abc",'), 400, 'malformed-body');
  });

  it.each([
    ['a form', 'application/x-www-form-urlencoded', 'username=form_user'],
    ['text', 'text/plain', '{"username":"text_user"}'],
    ['no content type', '', '{"username":"untyped_user"}'],
    ['XML', 'application/xml', '<username>xml_user</username>'],
  ])('answers 415 to %s on a JSON route, creating nothing', async (_case, type, text) => {
    const headers: Record<string, string> = type ? { 'content-type': type } : { 'content-type': '' };
    expectProblem(await post('/users', text, headers), 415, 'unsupported-media-type');
  });

  it('answers 415 to a compressed body instead of reading it wrongly', async () => {
    const zipped = gzipSync(JSON.stringify({ username: 'zipped_user' }));
    expectProblem(await post('/users', zipped, { 'content-encoding': 'gzip' }), 415, 'unsupported-media-type');
  });

  it('takes application/*+json bodies as JSON, and refuses another charset', async () => {
    const merged = await post('/users', JSON.stringify({ username: `merge_${Date.now()}` }), {
      'content-type': 'application/merge-patch+json',
    });
    expect(merged.status).toBe(201);
    const latin = await post('/users', JSON.stringify({ username: 'latin_user' }), {
      'content-type': 'application/json; charset=iso-8859-1',
    });
    expectProblem(latin, 415, 'unsupported-media-type');
  });

  it('answers 431 to a header block over the limit, and keeps serving', async () => {
    const response = await get('/me', { 'x-padding': 'a'.repeat(20_000) });
    expectProblem(response, 431, 'header-fields-too-large');
    expect(response.headers.connection).toBe('close');
    await expectServing();
  });

  it('refuses NUL and other control characters in text fields with 400, before PostgreSQL sees them', async () => {
    const title = expectProblem(await post('/documents', '{"title":"a\\u0000b","body":"x"}'), 400, 'invalid-request');
    expect(title.invalid_params).toEqual([{ name: 'title', reason: expect.stringMatching(/control characters/) }]);
    expectProblem(await get('/documents?search=%00'), 400, 'invalid-request');
    // Rich text keeps its content without the NUL.
    const created = await post('/documents', '{"title":"nul","body":"<b>a\\u0000b</b>"}');
    expect(created.json().body).toBe('<b>ab</b>');
  });

  it('answers 400, not 500, when PostgreSQL refuses a value no validator checked (a data exception)', async () => {
    // Key ids in the path are looked up as given; PostgreSQL cannot hold NUL in text.
    const response = await post('/admin/keys/%00abc/revoke', '{}');
    const body = expectProblem(response, 400, 'invalid-request');
    expect(body.invalid_params).toEqual([{ name: 'request', reason: 'holds a value that cannot be stored' }]);
    const event = await eventOf(server, 'INVALID_INPUT', response.requestId);
    expect(event?.details).toMatchObject({ sqlState: '22021', params: [{ rule: 'database_data_exception' }] });
  });

  it('writes one INVALID_INPUT event naming the field and rule, with values cut short and secrets left out', async () => {
    const response = await post(
      '/users',
      JSON.stringify({ username: 'u'.repeat(80), password: 'hunter2-hunter2-secret-value', extra: { $gt: '' } }),
    );
    expect(response.status).toBe(400);
    const event = await eventOf(server, 'INVALID_INPUT', response.requestId);
    expect(event).toBeDefined();
    const params = (event!.details as { params: Array<{ name: string; rule: string; value?: string }> }).params;
    const username = params.find((param) => param.name === 'username')!;
    expect(username.rule).toBeTruthy();
    expect(username.value!.length).toBeLessThanOrEqual(32);
    expect(params.find((param) => param.name === 'extra')).toMatchObject({ rule: 'whitelistValidation' });
    expect(JSON.stringify(event)).not.toContain('hunter2');
    // The client sees neither the values nor the rules' internals.
    expect(response.body.toString()).not.toContain('u'.repeat(33));
  });

  it('records the depth refusal with its rule', async () => {
    const response = await post('/users', `{"username":${'['.repeat(100)}${']'.repeat(100)}}`);
    const event = await eventOf(server, 'INVALID_INPUT', response.requestId);
    expect((event!.details as { params: unknown[] }).params).toEqual([{ name: expect.any(String), rule: 'depth' }]);
  });
});
