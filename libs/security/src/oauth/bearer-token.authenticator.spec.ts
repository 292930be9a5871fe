import { MemorySecurityChangeBus } from '../changes/adapters/memory-security-change.bus.js';
import { ManualClock } from '../core/clock.js';
import { InvalidCredentialsError, SecurityStoreUnavailableError } from '../core/errors.js';
import type { HttpRequestLike } from '../http/http-request.js';
import { FakeSecurityEvents } from '../monitoring/fake-security-events.test-helpers.js';
import { resolveSecurityOptions } from '../options/resolve-security-options.js';
import { MemoryPrincipalStore } from '../principals/adapters/memory-principal.store.js';
import { BearerTokenAuthenticator } from './bearer-token.authenticator.js';
import {
  TEST_ISSUER,
  generateTestSigningKey,
  signAccessToken,
  startTestAuthorizationServer,
  type TestAuthorizationServer,
  type TestSigningKey,
} from '../../test/support/oauth.js';

const NOW = Date.UTC(2026, 0, 1);

function request(authorization: string | string[] | undefined): HttpRequestLike {
  const values = authorization === undefined ? [] : Array.isArray(authorization) ? authorization : [authorization];
  return {
    method: 'GET',
    url: '/me',
    ip: '127.0.0.1',
    headers: values.length > 0 ? { authorization: values[0] } : {},
    rawHeaders: values.flatMap((value) => ['Authorization', value]),
  };
}

describe('BearerTokenAuthenticator', () => {
  let idp: TestAuthorizationServer;
  let key: TestSigningKey;
  let store: MemoryPrincipalStore;
  let bus: MemorySecurityChangeBus;
  let events: FakeSecurityEvents;
  let authenticator: BearerTokenAuthenticator;
  let userId: string;
  const clock = new ManualClock(NOW);

  beforeAll(async () => {
    key = await generateTestSigningKey('RS256', 'rsa-1');
    idp = await startTestAuthorizationServer([key]);
  });
  afterAll(async () => {
    await idp.close();
  });
  beforeEach(async () => {
    clock.set(NOW);
    idp.introspection.clear();
    idp.introspectionStatus = 200;
    store = new MemoryPrincipalStore();
    bus = new MemorySecurityChangeBus();
    await bus.start();
    events = new FakeSecurityEvents(clock);
    await store.upsertRole('editor', ['documents:read', 'documents:write', 'items:read']);
    userId = (await store.create({ kind: 'user', username: 'alice', createdAt: new Date(NOW - 1000) })).id;
    await store.assignRole(userId, 'editor');
    const options = resolveSecurityOptions({
      oauth: {
        issuer: TEST_ISSUER,
        audience: 'demo-api',
        jwksUrl: idp.jwksUrl,
        scopeMap: { docs: ['documents:*'] },
        introspection: { url: idp.introspectionUrl, clientId: 'demo-api', clientSecret: 'secret' },
      },
    });
    authenticator = new BearerTokenAuthenticator(options, store, events.asService(), clock, bus);
  });
  afterEach(async () => {
    authenticator.onModuleDestroy();
    await bus.stop();
  });

  const jwt = (extra: Record<string, unknown> = {}) =>
    signAccessToken(key, {
      iss: TEST_ISSUER,
      aud: 'demo-api',
      sub: userId,
      client_id: 'web-app',
      scope: 'docs',
      iat: NOW / 1000,
      exp: NOW / 1000 + 300,
      ...extra,
    });
  const refusal = async (req: HttpRequestLike): Promise<InvalidCredentialsError> => {
    const error = await authenticator.authenticate(req).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidCredentialsError);
    return error as InvalidCredentialsError;
  };

  it('is present for any Bearer token but a session token', () => {
    expect(authenticator.present(request('Bearer abc.def.ghi'))).toBe(true);
    expect(authenticator.present(request('bearer opaque'))).toBe(true);
    expect(authenticator.present(request('Bearer '))).toBe(true);
    expect(authenticator.present(request('Bearer sess_abc'))).toBe(false);
    expect(authenticator.present(request('Basic abc'))).toBe(false);
    expect(authenticator.present(request(undefined))).toBe(false);
  });

  it('builds the principal from a JWT: scopes through the map within the roles, client, second factor', async () => {
    const principal = await authenticator.authenticate(
      request(`Bearer ${await jwt({ amr: ['pwd', 'otp'], auth_time: NOW / 1000 - 60 })}`),
    );
    expect(principal).toEqual({
      id: userId,
      kind: 'user',
      roles: ['editor'],
      permissions: ['documents:read', 'documents:write'],
      attributes: {},
      authMethod: 'oauth',
      createdAt: new Date(NOW - 1000),
      clientId: 'web-app',
      mfaAt: new Date(NOW - 60_000),
    });
    expect(Object.isFrozen(principal)).toBe(true);
  });

  it('has no mfaAt without a second factor in amr', async () => {
    const principal = await authenticator.authenticate(
      request(`Bearer ${await jwt({ amr: ['pwd'], auth_time: NOW / 1000 })}`),
    );
    expect(principal.mfaAt).toBeUndefined();
  });

  it('introspects an opaque token and builds the same principal', async () => {
    idp.introspection.set('opaque-1', {
      active: true,
      sub: userId,
      scope: 'items:read users:delete',
      client_id: 'cli',
      exp: NOW / 1000 + 60,
    });
    const principal = await authenticator.authenticate(request('Bearer opaque-1'));
    expect(principal).toMatchObject({ id: userId, authMethod: 'oauth', clientId: 'cli', permissions: ['items:read'] });
  });

  it('refuses an inactive opaque token, with a TOKEN_REJECTED event that never holds the token', async () => {
    const error = await refusal(request('Bearer opaque-gone'));
    expect(error.reason).toBe('inactive');
    const [event] = events.ofType('TOKEN_REJECTED');
    expect(event).toMatchObject({ outcome: 'denied', status: 401, details: { reason: 'inactive' } });
    expect(JSON.stringify(event)).not.toContain('opaque-gone');
  });

  it('answers 503 (SecurityStoreUnavailableError) when the introspection endpoint fails, and records it', async () => {
    idp.introspectionStatus = 502;
    const error = await authenticator.authenticate(request('Bearer opaque-2')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SecurityStoreUnavailableError);
    expect(events.ofType('TOKEN_REJECTED')[0]).toMatchObject({
      outcome: 'failure',
      details: { reason: 'introspection_unavailable' },
    });
  });

  it('refuses an unknown subject, naming it', async () => {
    const stranger = '7d1f0a4e-2c55-4d8b-9a0e-1f2b3c4d5e6f';
    const error = await refusal(request(`Bearer ${await jwt({ sub: stranger })}`));
    expect(error.reason).toBe('unknown_subject');
    expect(events.ofType('TOKEN_REJECTED')[0]!.details).toMatchObject({
      reason: 'unknown_subject',
      sub: stranger,
      kid: 'rsa-1',
      iss: TEST_ISSUER,
      clientId: 'web-app',
    });
  });

  it('keeps principals cached until a change is broadcast: a disabled user stops at once', async () => {
    const token = await jwt();
    await authenticator.authenticate(request(`Bearer ${token}`));
    await store.disable(userId, new Date(NOW));
    // Without the broadcast the cached row answers (the store is not read on every request)...
    await expect(authenticator.authenticate(request(`Bearer ${token}`))).resolves.toBeDefined();
    // ...and the broadcast that Principals.disable() sends drops it.
    await bus.publish({ kind: 'principal', id: userId });
    expect((await refusal(request(`Bearer ${token}`))).reason).toBe('principal_disabled');
  });

  it('sees role changes once they are broadcast', async () => {
    const token = await jwt();
    expect((await authenticator.authenticate(request(`Bearer ${token}`))).permissions).toHaveLength(2);
    await store.upsertRole('editor', ['items:read']);
    await bus.publish({ kind: 'role', id: 'editor' });
    expect((await authenticator.authenticate(request(`Bearer ${token}`))).permissions).toEqual([]);
  });

  it('refuses two Authorization headers, and a Bearer scheme without a usable token', async () => {
    const token = await jwt();
    expect((await refusal(request([`Bearer ${token}`, 'Bearer other']))).reason).toBe('ambiguous');
    expect((await refusal(request('Bearer a b'))).reason).toBe('malformed');
  });

  it('answers 503 when the principal store fails', async () => {
    vi.spyOn(store, 'accessOf').mockRejectedValueOnce(new Error('connection refused'));
    const error = await authenticator.authenticate(request(`Bearer ${await jwt()}`)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SecurityStoreUnavailableError);
  });
});
