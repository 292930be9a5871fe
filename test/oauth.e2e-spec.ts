import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { exportSPKI, importJWK, type CryptoKey } from 'jose';
import { Clock } from '@app/security';
import {
  TEST_ISSUER,
  TEST_AUDIENCE,
  forgeToken,
  generateTestSigningKey,
  signAccessToken,
  startTestAuthorizationServer,
  tamperPayload,
  type TestAuthorizationServer,
  type TestSigningKey,
} from '../libs/security/test/support/oauth.js';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { eventOf } from './support/events.js';
import { createIdentity, type Identity } from './support/identities.js';
import { SIGNING_MASTER_KEYS } from './support/signing.js';

const CLIENT = 'web-app';

// Bodies are checked field by field, so `any` is the honest type here.
const jsonOf = async (response: Response): Promise<any> => response.json();

describe.each(ADAPTERS)('OAuth 2.0 bearer tokens on %s', (adapter) => {
  let idp: TestAuthorizationServer;
  let server: RunningDemo;
  let rsa: TestSigningKey;
  let ec: TestSigningKey;
  let editor: Identity;
  let viewer: Identity;
  let admin: Identity;
  // Unix seconds; the demo's clock is pinned to it.
  let now: number;

  beforeAll(async () => {
    rsa = await generateTestSigningKey('RS256', 'rsa-1');
    ec = await generateTestSigningKey('ES256', 'ec-1');
    idp = await startTestAuthorizationServer([rsa, ec]);
    server = await startDemo(adapter, {
      OAUTH_ISSUER: TEST_ISSUER,
      OAUTH_AUDIENCE: TEST_AUDIENCE,
      OAUTH_JWKS_URL: idp.jwksUrl,
      OAUTH_SCOPE_MAP: 'docs=documents:read,documents:write; everything=*:*',
      // jose times its JWKS cooldown with Date.now(), which the suite does not pin: keep it short and poll.
      OAUTH_JWKS_COOLDOWN: '1s',
    });
    now = Math.floor(Date.now() / 1000);
    vi.spyOn(server.demo.app.get(Clock), 'now').mockImplementation(() => now * 1000);
    editor = await createIdentity(server.demo.app, ['editor']);
    viewer = await createIdentity(server.demo.app, ['viewer']);
    admin = await createIdentity(server.demo.app, ['admin']);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await idp?.close();
  });

  const claims = (sub: string, extra: Record<string, unknown> = {}) => ({
    iss: TEST_ISSUER,
    aud: TEST_AUDIENCE,
    sub,
    client_id: CLIENT,
    scope: 'items:read documents:read',
    iat: now,
    exp: now + 300,
    jti: randomUUID(),
    ...extra,
  });
  const call = (path: string, token: string | undefined, init: RequestInit = {}) =>
    fetch(`${server.baseUrl}${path}`, {
      ...init,
      headers: {
        ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
        ...(init.body ? { 'content-type': 'application/json' } : {}),
        ...(init.headers as object),
      },
    });
  const requestIdOf = (response: Response) => response.headers.get('x-request-id')!;

  it('authenticates a valid access token: GET /me names the user, the client and the method', async () => {
    const token = await signAccessToken(rsa, claims(editor.id));
    const response = await call('/me', token);
    expect(response.status).toBe(200);
    expect(await jsonOf(response)).toEqual({
      principalId: editor.id,
      kind: 'user',
      roles: ['editor'],
      permissions: ['documents:read', 'items:read'],
      keyId: null,
      authMethod: 'oauth',
      clientId: CLIENT,
    });
  });

  it('accepts ES256 tokens, and azp when there is no client_id', async () => {
    const token = await signAccessToken(ec, claims(viewer.id, { client_id: undefined, azp: 'mobile-app' }));
    const response = await call('/me', token);
    expect(response.status).toBe(200);
    expect(await jsonOf(response)).toMatchObject({ principalId: viewer.id, clientId: 'mobile-app' });
  });

  it('accepts exp and nbf within the 30 s leeway', async () => {
    for (const extra of [{ exp: now - 10 }, { nbf: now + 10 }]) {
      expect((await call('/me', await signAccessToken(rsa, claims(editor.id, extra)))).status).toBe(200);
    }
  });

  it('refuses every bad token with the same 401 and a Bearer challenge, and records each exact reason', async () => {
    const publicPem = await exportSPKI((await importJWK(rsa.publicJwk, 'RS256')) as CryptoKey);
    const valid = await signAccessToken(rsa, claims(editor.id));
    const stranger = await generateTestSigningKey('RS256', 'not-served');
    const cases: Array<[string, string, string, Record<string, unknown>?]> = [
      ['expired', await signAccessToken(rsa, claims(editor.id, { exp: now - 120 })), 'expired', { kid: 'rsa-1' }],
      ['not yet valid', await signAccessToken(rsa, claims(editor.id, { nbf: now + 120 })), 'not_yet_valid'],
      [
        'wrong issuer',
        await signAccessToken(rsa, claims(editor.id, { iss: 'https://evil.example/' })),
        'bad_issuer',
        { iss: 'https://evil.example/' },
      ],
      ['wrong audience', await signAccessToken(rsa, claims(editor.id, { aud: 'other-api' })), 'bad_audience'],
      ['wrong typ', await signAccessToken(rsa, claims(editor.id), { typ: 'dpop+jwt' }), 'bad_typ'],
      ['an ID token (typ JWT)', await signAccessToken(rsa, claims(editor.id), { typ: 'JWT' }), 'bad_typ'],
      ['unknown kid', await signAccessToken(stranger, claims(editor.id)), 'unknown_kid', { kid: 'not-served' }],
      ['alg none', forgeToken({ alg: 'none', kid: 'rsa-1', typ: 'at+jwt' }, claims(editor.id)), 'bad_alg'],
      [
        'HS256 signed with the public key',
        forgeToken(
          { alg: 'HS256', kid: 'rsa-1', typ: 'at+jwt' },
          claims(editor.id),
          new TextEncoder().encode(publicPem),
        ),
        'bad_alg',
        { alg: 'HS256' },
      ],
      ['tampered payload', tamperPayload(valid, claims(admin.id)), 'bad_signature'],
      ['unknown sub', await signAccessToken(rsa, claims(randomUUID())), 'unknown_subject'],
      ['not a token', 'not a token', 'malformed'],
      ['opaque without introspection', 'opaque-token-123', 'malformed'],
    ];
    const missing = await call('/me', undefined);
    const generic = await jsonOf(missing);
    for (const [label, token, reason, details] of cases) {
      const response = await call('/me', token);
      expect({ label, status: response.status }).toEqual({ label, status: 401 });
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(response.headers.get('www-authenticate')).toContain('Bearer realm="api"');
      const body = await jsonOf(response);
      expect({ ...body, request_id: undefined }).toEqual({ ...generic, request_id: undefined });
      const event = await eventOf(server, 'TOKEN_REJECTED', requestIdOf(response));
      expect({ label, reason: event?.details.reason, outcome: event?.outcome }).toEqual({
        label,
        reason,
        outcome: 'denied',
      });
      if (details) expect(event?.details).toMatchObject(details);
      expect(JSON.stringify(event?.details)).not.toContain(token);
      const failed = await eventOf(server, 'AUTH_FAILED', requestIdOf(response));
      expect(failed?.details.reason).toBe(reason);
    }
  });

  it('refuses a token whose user is disabled, at once', async () => {
    const user = await createIdentity(server.demo.app, ['viewer']);
    const token = await signAccessToken(rsa, claims(user.id));
    expect((await call('/me', token)).status).toBe(200);
    const disabled = await fetch(`${server.baseUrl}/users/${user.id}`, {
      method: 'DELETE',
      headers: { 'x-api-key': admin.key },
    });
    expect(disabled.status).toBe(200);
    const response = await call('/me', token);
    expect(response.status).toBe(401);
    const event = await eventOf(server, 'TOKEN_REJECTED', requestIdOf(response));
    expect(event?.details).toMatchObject({ reason: 'principal_disabled', principalId: user.id });
  });

  it('refuses a bearer token sent together with an API key', async () => {
    const token = await signAccessToken(rsa, claims(editor.id));
    const response = await call('/me', token, { headers: { 'x-api-key': editor.key } });
    expect(response.status).toBe(401);
    expect((await eventOf(server, 'AUTH_FAILED', requestIdOf(response)))?.details.reason).toBe('ambiguous');
  });

  it('refuses two Authorization headers, even when the first holds a valid token', async () => {
    const token = await signAccessToken(rsa, claims(editor.id));
    const { status, requestId } = await new Promise<{ status: number; requestId: string }>((resolve, reject) => {
      const outgoing = httpRequest(`${server.baseUrl}/me`, {
        // A flat list is sent as it is: both lines, and no default Host.
        headers: [
          'Host',
          new URL(server.baseUrl).host,
          'Authorization',
          `Bearer ${token}`,
          'Authorization',
          'Bearer other.token.here',
        ],
      });
      outgoing.on('response', (response) => {
        response.resume();
        resolve({ status: response.statusCode!, requestId: String(response.headers['x-request-id']) });
      });
      outgoing.on('error', reject);
      outgoing.end();
    });
    expect(status).toBe(401);
    expect((await eventOf(server, 'TOKEN_REJECTED', requestId))?.details.reason).toBe('ambiguous');
  });

  it('leaves Bearer sess_ tokens to the session authenticator', async () => {
    const response = await call('/me', 'sess_not-a-real-session');
    expect(response.status).toBe(401);
    expect(await eventOf(server, 'TOKEN_REJECTED', requestIdOf(response))).toBeUndefined();
  });

  describe('scopes narrow the user', () => {
    const document = { title: 'Plan', body: '<p>text</p>' };

    it('a token with only items:read cannot write documents, though its user is an editor', async () => {
      const token = await signAccessToken(rsa, claims(editor.id, { scope: 'items:read' }));
      expect((await call('/v1/items', token)).status).toBe(200);
      const refused = await call('/documents', token, { method: 'POST', body: JSON.stringify(document) });
      expect(refused.status).toBe(403);
      // The same user with an unscoped API key may.
      const withKey = await call('/documents', undefined, {
        method: 'POST',
        body: JSON.stringify(document),
        headers: { 'x-api-key': editor.key },
      });
      expect(withKey.status).toBe(201);
    });

    it('a scope the user’s roles lack grants nothing', async () => {
      const token = await signAccessToken(rsa, claims(viewer.id, { scope: 'documents:write users:delete' }));
      const me = await call('/me', token);
      expect(me.status).toBe(200);
      expect((await jsonOf(me)).permissions).toEqual([]);
      expect((await call('/documents', token, { method: 'POST', body: JSON.stringify(document) })).status).toBe(403);
    });

    it('OAUTH_SCOPE_MAP maps a scope to permissions, still within the roles', async () => {
      const docs = await signAccessToken(rsa, claims(editor.id, { scope: 'docs openid' }));
      const me = await jsonOf(await call('/me', docs));
      expect(me.permissions).toEqual(['documents:read', 'documents:write']);
      expect((await call('/documents', docs, { method: 'POST', body: JSON.stringify(document) })).status).toBe(201);
      expect((await call('/v1/items', docs)).status).toBe(403);
      // `everything` maps to *:*, which a viewer's roles cut back to the viewer's permissions.
      const everything = await signAccessToken(rsa, claims(viewer.id, { scope: 'everything' }));
      expect((await jsonOf(await call('/me', everything))).permissions).toEqual([
        'documents:read',
        'items:read',
        'users:read',
      ]);
    });
  });

  // Last: it changes the keys the authorization server serves.
  it('picks up a key rotation at the JWKS: the new kid after the cooldown, the retired one refused', async () => {
    const rotated = await generateTestSigningKey('ES256', 'ec-2');
    const fetches = idp.jwksFetches;
    idp.keys = [rotated];
    const token = await signAccessToken(rotated, claims(editor.id));
    // Within the 1 s cooldown the new kid is unknown; after it, one refetch finds it.
    await expect.poll(async () => (await call('/me', token)).status, { timeout: 10_000, interval: 250 }).toBe(200);
    expect(idp.jwksFetches).toBeGreaterThan(fetches);
    const retired = await call('/me', await signAccessToken(rsa, claims(editor.id)));
    expect(retired.status).toBe(401);
    expect((await eventOf(server, 'TOKEN_REJECTED', requestIdOf(retired)))?.details).toMatchObject({
      reason: 'unknown_kid',
      kid: 'rsa-1',
    });
  });
});

describe.each(ADAPTERS)('OAuth configuration of the demo in production on %s', (adapter) => {
  const production = {
    NODE_ENV: 'production',
    SIGNING_MASTER_KEYS,
    API_KEY_PEPPER: 'p'.repeat(40),
    SECURITY_LINT_ALLOW: 'signing-nonces-not-shared',
    OAUTH_ISSUER: TEST_ISSUER,
    OAUTH_AUDIENCE: TEST_AUDIENCE,
  };

  it('refuses to boot with a plain http JWKS URL off loopback, naming the lint rule', async () => {
    const boot = startDemo(adapter, { ...production, OAUTH_JWKS_URL: 'http://idp.example.com/jwks.json' });
    await expect(boot).rejects.toMatchObject({ code: 'ERR_SECURITY_CONFIG_LINT_OAUTH_JWKS_HTTP' });
    await expect(boot).rejects.toThrow(/oauth-jwks-http/);
  });

  it('refuses half of the OAuth settings', async () => {
    await expect(startDemo(adapter, { OAUTH_ISSUER: TEST_ISSUER })).rejects.toThrow(/must be set together/);
  });
});
