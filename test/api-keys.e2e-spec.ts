import { connect } from 'node:net';
import {
  Clock,
  apiKeyChecksum,
  generateApiKey,
  ApiKeyStore,
  PrincipalStore,
  Principals,
  AuditEventStore,
  SecurityEvents,
} from '@app/security';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { addKey, createIdentity, type Identity } from './support/identities.js';

/** A GET with exactly these header lines, over a plain socket. */
function rawGet(
  baseUrl: string,
  path: string,
  headers: Array<[string, string]>,
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      const lines = [
        `GET ${path} HTTP/1.1`,
        `Host: ${hostname}:${port}`,
        'Connection: close',
        ...headers.map(([n, v]) => `${n}: ${v}`),
      ];
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (text += chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const status = Number(text.slice(9, 12));
      const start = text.indexOf('\r\n\r\n') + 4;
      const head = text.slice(0, start).toLowerCase();
      let body = text.slice(start);
      if (head.includes('transfer-encoding: chunked'))
        body = body.replace(/^[0-9a-f]+\r\n/, '').replace(/\r\n0\r\n\r\n$/, '');
      resolve({ status, body });
    });
  });
}

// Bodies are checked field by field, so `any` is the honest type here.
const jsonOf = async (response: Response): Promise<any> => response.json();

describe.each(ADAPTERS)('API keys and RBAC over HTTP on %s', (adapter) => {
  let server: RunningDemo;
  let admin: Identity;
  let viewer: Identity;
  let now: number;

  beforeAll(async () => {
    server = await startDemo(adapter);
    now = Date.now();
    vi.spyOn(server.demo.app.get(Clock), 'now').mockImplementation(() => now);
    admin = await createIdentity(server.demo.app, ['admin']);
    viewer = await createIdentity(server.demo.app, ['viewer']);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  const call = (path: string, key?: string, init: RequestInit = {}) =>
    fetch(`${server.baseUrl}${path}`, {
      ...init,
      headers: {
        ...(key ? { 'x-api-key': key } : {}),
        ...(init.body ? { 'content-type': 'application/json' } : {}),
        ...(init.headers as object),
      },
    });
  const post = (path: string, key: string | undefined, body: unknown) =>
    call(path, key, { method: 'POST', body: JSON.stringify(body) });

  it('authenticates a valid key: GET /me answers who and what', async () => {
    const response = await call('/me', viewer.key);
    expect(response.status).toBe(200);
    expect(await jsonOf(response)).toEqual({
      principalId: viewer.id,
      kind: 'user',
      roles: ['viewer'],
      permissions: ['documents:read', 'items:read', 'users:read'],
      keyId: viewer.keyId,
      authMethod: 'api-key',
    });
  });

  it('records when a key was last used, in batches', async () => {
    const user = await createIdentity(server.demo.app, ['viewer']);
    const listed = async () =>
      (await jsonOf(await call(`/admin/keys?owner=${user.id}`, admin.key))).items[0].lastUsedAt;
    expect(await listed()).toBeNull();
    expect((await call('/me', user.key)).status).toBe(200);
    await expect.poll(listed, { timeout: 3_000 }).toBe(new Date(now).toISOString());
  });

  it('answers every refusal with the same 401 body, and records each exact reason', async () => {
    const expired = await createIdentity(server.demo.app, ['viewer'], { expiresIn: '1h' });
    const revoked = await createIdentity(server.demo.app, ['viewer']);
    await post(`/admin/keys/${revoked.keyId}/revoke`, admin.key, {});
    const disabled = await createIdentity(server.demo.app, ['viewer']);
    expect((await call(`/users/${disabled.id}`, admin.key, { method: 'DELETE' })).status).toBe(200);
    const flipped = viewer.key.slice(0, -1) + (viewer.key.endsWith('0') ? '1' : '0');
    const body = `sk_live_${viewer.keyId}${'A'.repeat(22)}`;
    const wrongSecret = body + apiKeyChecksum(body);
    const unknown = generateApiKey().key;
    const testEnv = (() => {
      const b = `sk_test_${viewer.keyId}${viewer.key.slice(20, 42)}`;
      return b + apiKeyChecksum(b);
    })();

    now += 2 * 3_600_000;
    const cases: Array<[string, RequestInit['headers'], string | undefined]> = [
      ['missing', {}, 'missing'],
      ['malformed', { 'x-api-key': 'sk_live_tooshort' }, 'malformed'],
      ['checksum', { 'x-api-key': flipped }, 'checksum'],
      ['unknown', { 'x-api-key': unknown }, 'unknown'],
      ['wrong secret', { 'x-api-key': wrongSecret }, 'mismatch'],
      ['other environment', { 'x-api-key': testEnv }, 'mismatch'],
      ['expired', { 'x-api-key': expired.key }, 'expired'],
      ['revoked', { 'x-api-key': revoked.key }, 'revoked'],
      ['disabled principal', { 'x-api-key': disabled.key }, 'principal_disabled'],
      ['query string when not enabled', {}, 'missing'],
      ['two keys in one header', { 'x-api-key': `${viewer.key}, ${admin.key}` }, 'ambiguous'],
    ];
    const bodies: unknown[] = [];
    for (const [name, headers, reason] of cases) {
      const requestId = `refusal-${adapter}-${name.replace(/ /g, '-')}`;
      const path = name.startsWith('query') ? `/me?api_key=${viewer.key}` : '/me';
      const response = await fetch(`${server.baseUrl}${path}`, {
        headers: [
          ...(Array.isArray(headers) ? headers : Object.entries(headers ?? {})),
          ['x-request-id', requestId],
        ] as [string, string][],
      });
      expect(response.status, name).toBe(401);
      expect(response.headers.get('www-authenticate'), name).toBe(
        'ApiKey realm="api", Signature realm="api", Bearer realm="api"',
      );
      const problem = await jsonOf(response);
      expect(problem.request_id).toBe(requestId);
      bodies.push({ ...problem, request_id: undefined });
      await expect
        .poll(
          async () =>
            (await server.demo.app.get(AuditEventStore).recent(200)).find((e) => e.requestId === requestId)?.details
              .reason,
          { timeout: 2_000 },
        )
        .toBe(reason);
      const row = (await server.demo.app.get(AuditEventStore).recent(200)).find((e) => e.requestId === requestId)!;
      expect(JSON.stringify(row)).not.toContain(viewer.key.slice(20, 42));
    }
    // Two separate X-API-Key lines on the wire (fetch would merge them into one).
    const raw = await rawGet(server.baseUrl, '/me', [
      ['X-API-Key', viewer.key],
      ['X-API-Key', viewer.key],
      ['X-Request-Id', `refusal-${adapter}-duplicated`],
    ]);
    expect(raw.status).toBe(401);
    bodies.push({ ...JSON.parse(raw.body), request_id: undefined });
    await expect
      .poll(
        async () =>
          (await server.demo.app.get(AuditEventStore).recent(200)).find(
            (e) => e.requestId === `refusal-${adapter}-duplicated`,
          )?.details.reason,
        { timeout: 2_000 },
      )
      .toBe('ambiguous');
    for (const other of bodies) expect(other).toEqual(bodies[0]);
    now -= 2 * 3_600_000;
  });

  it('refuses a malformed or wrong-checksum key without touching the database', async () => {
    const keys = vi.spyOn(server.demo.app.get(ApiKeyStore), 'findById');
    const access = vi.spyOn(server.demo.app.get(PrincipalStore), 'accessOf');
    try {
      for (const key of [
        'sk_live_x',
        `${viewer.key.slice(0, -1)}${viewer.key.endsWith('0') ? '1' : '0'}`,
        'not a key at all',
        'x'.repeat(5000),
      ]) {
        expect((await call('/me', key)).status).toBe(401);
      }
      expect(keys).not.toHaveBeenCalled();
      expect(access).not.toHaveBeenCalled();
    } finally {
      keys.mockRestore();
      access.mockRestore();
    }
  });

  it('keeps a rotated key valid for the grace period, then only the new one', async () => {
    const owner = await createIdentity(server.demo.app, ['viewer']);
    const rotated = await post(`/admin/keys/${owner.keyId}/rotate`, admin.key, { grace: '1h' });
    expect(rotated.status).toBe(201);
    const next = await jsonOf(rotated);
    expect(next).toMatchObject({
      rotatedFrom: owner.keyId,
      previousValidUntil: new Date(now + 3_600_000).toISOString(),
    });
    expect(next.key).toMatch(/^sk_live_[0-9A-Za-z]{40}$/);
    expect((await call('/me', owner.key)).status).toBe(200);
    expect((await call('/me', next.key)).status).toBe(200);
    now += 3_600_000 + 1_000;
    try {
      expect((await call('/me', owner.key)).status).toBe(401);
      expect((await call('/me', next.key)).status).toBe(200);
    } finally {
      now -= 3_600_000 + 1_000;
    }
  });

  it('with grace 0 the old key stops at once', async () => {
    const owner = await createIdentity(server.demo.app, ['viewer']);
    const next = await jsonOf(await post(`/admin/keys/${owner.keyId}/rotate`, admin.key, { grace: '0' }));
    expect((await call('/me', owner.key)).status).toBe(401);
    expect((await call('/me', next.key)).status).toBe(200);
  });

  it('refuses a key past its expiry', async () => {
    const owner = await createIdentity(server.demo.app, ['viewer'], { expiresIn: '30m' });
    expect((await call('/me', owner.key)).status).toBe(200);
    now += 30 * 60_000;
    try {
      expect((await call('/me', owner.key)).status).toBe(401);
    } finally {
      now -= 30 * 60_000;
    }
  });

  it('narrows a key to its scopes', async () => {
    const scoped = await addKey(server.demo.app, admin.id, { scopes: ['users:read'] });
    const me = await jsonOf(await call('/me', scoped.key));
    expect(me.permissions).toEqual(['users:read']);
    expect((await call(`/users/${viewer.id}`, scoped.key)).status).toBe(200);
    expect((await call('/admin/keys', scoped.key)).status).toBe(403);
    expect((await call(`/users/${viewer.id}`, scoped.key, { method: 'DELETE' })).status).toBe(403);
  });

  it('answers 403 to a viewer on /admin/keys and 200 to an admin', async () => {
    const denied = await call('/admin/keys', viewer.key);
    expect(denied.status).toBe(403);
    expect(await jsonOf(denied)).toMatchObject({ status: 403, title: 'Forbidden' });
    const listed = await call(`/admin/keys?owner=${viewer.id}`, admin.key);
    expect(listed.status).toBe(200);
    const body = await jsonOf(listed);
    expect(body.items.map((k: { id: string }) => k.id)).toEqual([viewer.keyId]);
    expect(body.items[0]).toMatchObject({ ownerId: viewer.id, status: 'active', environment: 'live' });
    expect(body.items[0]).not.toHaveProperty('key');
    expect(body.items[0]).not.toHaveProperty('secretHash');
    expect(JSON.stringify(body)).not.toContain(viewer.key.slice(20));
  });

  it('creates a key through /admin/keys, shows it once, and revokes it everywhere', async () => {
    const created = await post('/admin/keys', admin.key, {
      owner: viewer.id,
      name: 'ci deploy',
      scopes: ['items:read'],
      expiresIn: '30d',
    });
    expect(created.status).toBe(201);
    const issued = await jsonOf(created);
    expect(issued).toEqual({
      id: expect.any(String),
      key: expect.stringMatching(/^sk_live_/),
      expiresAt: new Date(now + 30 * 86_400_000).toISOString(),
      rateLimit: null,
    });
    expect((await call('/me', issued.key)).status).toBe(200);
    const listed = await jsonOf(await call(`/admin/keys?owner=${viewer.id}`, admin.key));
    expect(JSON.stringify(listed)).not.toContain(issued.key);
    const revoked = await post(`/admin/keys/${issued.id}/revoke`, admin.key, {});
    expect(revoked.status).toBe(200);
    expect(await jsonOf(revoked)).toEqual({ id: issued.id, revokedAt: new Date(now).toISOString() });
    expect((await call('/me', issued.key)).status).toBe(401);
  });

  it('refuses unknown fields and bad values with a 400 problem listing them', async () => {
    const response = await post('/admin/keys', admin.key, {
      owner: viewer.id,
      name: 'x',
      isAdmin: true,
      expiresIn: 'forever',
    });
    expect(response.status).toBe(400);
    const problem = await jsonOf(response);
    expect(problem.invalid_params.map((p: { name: string }) => p.name).sort()).toEqual(['expiresIn', 'isAdmin']);
    expect(JSON.stringify(problem)).not.toContain('forever');
  });

  it('stores a key’s own rate limit, shows it in the answer and the list, and refuses a malformed one', async () => {
    const created = await post('/admin/keys', admin.key, { owner: viewer.id, name: 'limited', rateLimit: '7/60s' });
    expect(created.status).toBe(201);
    const issued = await jsonOf(created);
    expect(issued).toMatchObject({ id: expect.any(String), rateLimit: '7/60s' });
    const listed = await jsonOf(await call(`/admin/keys?owner=${viewer.id}`, admin.key));
    expect(listed.items.find((k: { id: string }) => k.id === issued.id)).toMatchObject({ rateLimit: '7/60s' });
    expect(listed.items.find((k: { id: string }) => k.id === viewer.keyId)).toMatchObject({ rateLimit: null });

    const refused = await post('/admin/keys', admin.key, { owner: viewer.id, name: 'x', rateLimit: '7 per minute' });
    expect(refused.status).toBe(400);
    expect((await jsonOf(refused)).invalid_params.map((p: { name: string }) => p.name)).toEqual(['rateLimit']);
    // Past the DTO's pattern, the service's own check: no 0 count or window.
    const zero = await post('/admin/keys', admin.key, { owner: viewer.id, name: 'x', rateLimit: '0/60s' });
    expect(zero.status).toBe(400);
    expect((await post('/me/keys', viewer.key, { name: 'x', rateLimit: '7 per minute' })).status).toBe(400);
    const own = await jsonOf(await post('/me/keys', viewer.key, { name: 'own limited', rateLimit: '9/1m' }));
    expect(own.rateLimit).toBe('9/1m');
    await post(`/me/keys/${own.id}/revoke`, viewer.key, {});
    await post(`/admin/keys/${issued.id}/revoke`, admin.key, {});
  });

  it('lets a principal manage its own keys and nobody else’s', async () => {
    const own = await jsonOf(await post('/me/keys', viewer.key, { name: 'laptop' }));
    expect((await call('/me', own.key)).status).toBe(200);
    expect((await call('/me/keys', viewer.key).then(jsonOf)).items.map((k: { id: string }) => k.id)).toContain(own.id);
    expect((await post(`/me/keys/${admin.keyId}/revoke`, viewer.key, {})).status).toBe(404);
    expect((await post(`/me/keys/${own.id}/revoke`, viewer.key, {})).status).toBe(200);
    expect((await call('/me', own.key)).status).toBe(401);
    expect((await call('/me', admin.key)).status).toBe(200);
  });

  it('logs in with a password and refuses a wrong one with the generic 401', async () => {
    const person = await createIdentity(server.demo.app, ['viewer'], { password: 'correct horse battery staple' });
    const ok = await post('/login', undefined, { username: person.username, password: 'correct horse battery staple' });
    expect(ok.status).toBe(200);
    // A session token now comes with it (test/sessions.e2e-spec.ts covers what it does).
    expect(await jsonOf(ok)).toEqual({
      principalId: person.id,
      token: expect.stringMatching(/^sess_[A-Za-z0-9_-]{43}$/),
      expiresAt: expect.any(String),
    });
    const wrong = await post('/login', undefined, {
      username: person.username,
      password: 'wrong horse battery staple',
    });
    const nobody = await post('/login', undefined, { username: 'nobody-here', password: 'wrong horse battery staple' });
    const missing = await call('/me');
    const [a, b, c] = [await jsonOf(wrong), await jsonOf(nobody), await jsonOf(missing)];
    expect(wrong.status).toBe(401);
    expect(nobody.status).toBe(401);
    expect({ ...a, request_id: 0, instance: 0 }).toEqual({ ...b, request_id: 0, instance: 0 });
    expect({ ...a, request_id: 0, instance: 0 }).toEqual({ ...c, request_id: 0, instance: 0 });
    // Rows are written off the request path: wait for the writer before reading them.
    expect(await server.demo.app.get(SecurityEvents).flush(10_000)).toBe(true);
    const events = await server.demo.app.get(AuditEventStore).recent(50);
    expect(events.some((e) => e.type === 'LOGIN_SUCCEEDED' && e.principalId === person.id)).toBe(true);
    expect(events.some((e) => e.type === 'LOGIN_FAILED' && e.details.reason === 'unknown_user')).toBe(true);
    expect(events.some((e) => e.type === 'LOGIN_FAILED' && e.details.reason === 'wrong_password')).toBe(true);
    expect(JSON.stringify(events)).not.toContain('horse battery');
  });

  it('refuses weak passwords when creating users', async () => {
    const principals = server.demo.app.get(Principals);
    for (const password of ['short', 'password1234', 'qwertyuiop123']) {
      await expect(
        principals.create({ username: `weak-${password.length}-${adapter}`, password }, { label: 'test' }),
      ).rejects.toMatchObject({
        code: 'ERR_SECURITY_WEAK_PASSWORD',
      });
    }
  });
});
