import { ManualClock } from '../core/clock.js';
import { TokenCheckUnavailableError, TokenRejection } from './core/token-rejection.js';
import { startTestAuthorizationServer, TEST_ISSUER, type TestAuthorizationServer } from '../../test/support/oauth.js';
import {
  resolveOAuthOptions,
  type ResolvedOAuthIntrospectionOptions,
  type ResolvedOAuthOptions,
} from './oauth-options.js';
import { TokenIntrospector } from './token-introspector.js';

const NOW = Date.UTC(2026, 0, 1);

describe('TokenIntrospector', () => {
  let server: TestAuthorizationServer;
  const clock = new ManualClock(NOW);

  beforeAll(async () => {
    server = await startTestAuthorizationServer();
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    clock.set(NOW);
    server.introspection.clear();
    server.introspectionCalls.length = 0;
    server.introspectionStatus = 200;
  });

  const introspector = (cacheMaxAge = '5m') => {
    const options = resolveOAuthOptions(
      {
        issuer: TEST_ISSUER,
        audience: 'demo-api',
        jwksUrl: server.jwksUrl,
        introspection: { url: server.introspectionUrl, clientId: 'demo api', clientSecret: 's3cret:&', cacheMaxAge },
      },
      { production: false, warnings: [] },
    ) as ResolvedOAuthOptions;
    return new TokenIntrospector(options, options.introspection as ResolvedOAuthIntrospectionOptions, clock);
  };

  it('POSTs the token form-encoded with the client credentials in Basic, and returns the claims', async () => {
    server.introspection.set('opaque-1', { active: true, sub: 'u1', scope: 'items:read', exp: NOW / 1000 + 60 });
    await expect(introspector().introspect('opaque-1')).resolves.toMatchObject({ sub: 'u1', scope: 'items:read' });
    const [call] = server.introspectionCalls;
    // RFC 6749 section 2.3.1: each part form-encoded before it is joined.
    expect(call!.authorization).toBe(`Basic ${Buffer.from('demo+api:s3cret%3A%26').toString('base64')}`);
    expect(Object.fromEntries(new URLSearchParams(call!.body))).toEqual({
      token: 'opaque-1',
      token_type_hint: 'access_token',
    });
  });

  it('refuses an inactive token, and asks again next time', async () => {
    const subject = introspector();
    for (let i = 0; i < 2; i++) {
      const error = await subject.introspect('unknown').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TokenRejection);
      expect(error).toMatchObject({ reason: 'inactive' });
    }
    expect(server.introspectionCalls).toHaveLength(2);
  });

  it('reuses an active answer until the token expires, and no longer', async () => {
    server.introspection.set('opaque-2', { active: true, sub: 'u1', exp: NOW / 1000 + 60 });
    const subject = introspector();
    await subject.introspect('opaque-2');
    clock.advance(59_000);
    await subject.introspect('opaque-2');
    expect(server.introspectionCalls).toHaveLength(1);
    clock.advance(2_000);
    // Now past exp (and beyond the 30 s leeway once more time passes): asked again, and refused.
    server.introspection.set('opaque-2', { active: false });
    await expect(subject.introspect('opaque-2')).rejects.toMatchObject({ reason: 'inactive' });
    expect(server.introspectionCalls).toHaveLength(2);
  });

  it('reuses an active answer at most cacheMaxAge', async () => {
    server.introspection.set('opaque-3', { active: true, sub: 'u1', exp: NOW / 1000 + 3600 });
    const subject = introspector('10s');
    await subject.introspect('opaque-3');
    clock.advance(11_000);
    await subject.introspect('opaque-3');
    expect(server.introspectionCalls).toHaveLength(2);
    const uncached = introspector('0s');
    await uncached.introspect('opaque-3');
    await uncached.introspect('opaque-3');
    expect(server.introspectionCalls).toHaveLength(4);
  });

  it('answers TokenCheckUnavailableError when the endpoint fails', async () => {
    server.introspectionStatus = 500;
    const error = await introspector()
      .introspect('opaque-4')
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TokenCheckUnavailableError);
    expect(error).toMatchObject({ dependency: 'introspection' });
  });
});
