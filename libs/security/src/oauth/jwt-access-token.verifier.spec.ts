import { exportSPKI, importJWK, type CryptoKey } from 'jose';
import { ManualClock } from '../core/clock.js';
import { TokenCheckUnavailableError, TokenRejection } from './core/token-rejection.js';
import { JwtAccessTokenVerifier } from './jwt-access-token.verifier.js';
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
} from '../../test/support/oauth.js';
import { resolveOAuthOptions, type OAuthOptions, type ResolvedOAuthOptions } from './oauth-options.js';

const SUB = '0b5e3a52-8f0c-4a8e-9d51-3c0b0e6f4a11';
const NOW = Date.UTC(2026, 0, 1) / 1000;

describe('JwtAccessTokenVerifier', () => {
  let server: TestAuthorizationServer;
  let rsa: TestSigningKey;
  let ec: TestSigningKey;
  const clock = new ManualClock(NOW * 1000);

  beforeAll(async () => {
    rsa = await generateTestSigningKey('RS256', 'rsa-1');
    ec = await generateTestSigningKey('ES256', 'ec-1');
    server = await startTestAuthorizationServer([rsa, ec]);
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    clock.set(NOW * 1000);
    server.keys = [rsa, ec];
  });

  const options = (extra: Partial<OAuthOptions> = {}): ResolvedOAuthOptions =>
    resolveOAuthOptions(
      { issuer: TEST_ISSUER, audience: TEST_AUDIENCE, jwksUrl: server.jwksUrl, ...extra },
      { production: false, warnings: [] },
    ) as ResolvedOAuthOptions;
  const claims = (extra: Record<string, unknown> = {}) => ({
    iss: TEST_ISSUER,
    aud: TEST_AUDIENCE,
    sub: SUB,
    client_id: 'web-app',
    iat: NOW,
    exp: NOW + 300,
    ...extra,
  });
  const rejection = async (verifier: JwtAccessTokenVerifier, token: string): Promise<TokenRejection> => {
    const error = await verifier.verify(token).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(TokenRejection);
    return error as TokenRejection;
  };

  it('accepts RS256 and ES256 access tokens from the JWKS and returns the claims and kid', async () => {
    const verifier = new JwtAccessTokenVerifier(options(), clock);
    for (const key of [rsa, ec]) {
      const verified = await verifier.verify(await signAccessToken(key, claims({ scope: 'items:read' })));
      expect(verified).toEqual({ claims: claims({ scope: 'items:read' }), kid: key.kid });
    }
  });

  it('accepts typ application/at+jwt (RFC 9068 allows both spellings)', async () => {
    const verifier = new JwtAccessTokenVerifier(options(), clock);
    const token = await signAccessToken(rsa, claims(), { typ: 'application/at+jwt' });
    await expect(verifier.verify(token)).resolves.toMatchObject({ kid: 'rsa-1' });
  });

  it('applies the leeway to exp and nbf, by the injected clock', async () => {
    const verifier = new JwtAccessTokenVerifier(options({ clockTolerance: '30s' }), clock);
    await expect(verifier.verify(await signAccessToken(rsa, claims({ exp: NOW - 10 })))).resolves.toBeDefined();
    await expect(verifier.verify(await signAccessToken(rsa, claims({ nbf: NOW + 10 })))).resolves.toBeDefined();
    expect((await rejection(verifier, await signAccessToken(rsa, claims({ exp: NOW - 31 })))).reason).toBe('expired');
    expect((await rejection(verifier, await signAccessToken(rsa, claims({ nbf: NOW + 31 })))).reason).toBe(
      'not_yet_valid',
    );
    clock.set((NOW + 400) * 1000);
    expect((await rejection(verifier, await signAccessToken(rsa, claims()))).reason).toBe('expired');
  });

  it('refuses each kind of bad token with its reason, and says what the token claimed (never the token)', async () => {
    const verifier = new JwtAccessTokenVerifier(options(), clock);
    const publicPem = await exportSPKI((await importJWK(rsa.publicJwk, 'RS256')) as CryptoKey);
    const valid = await signAccessToken(rsa, claims());
    const cases: Array<[string, Promise<string> | string, string, Record<string, unknown>?]> = [
      [
        'wrong issuer',
        signAccessToken(rsa, claims({ iss: 'https://evil.example/' })),
        'bad_issuer',
        { iss: 'https://evil.example/', claim: 'iss' },
      ],
      ['no issuer', signAccessToken(rsa, claims({ iss: undefined })), 'bad_issuer'],
      ['wrong audience', signAccessToken(rsa, claims({ aud: 'other-api' })), 'bad_audience', { claim: 'aud' }],
      ['an ID token (typ JWT)', signAccessToken(rsa, claims(), { typ: 'JWT' }), 'bad_typ', { typ: 'JWT' }],
      ['no typ', signAccessToken(rsa, claims(), { typ: null }), 'bad_typ'],
      ['another typ', signAccessToken(rsa, claims(), { typ: 'dpop+jwt' }), 'bad_typ'],
      ['an unknown kid', signAccessToken({ ...rsa, kid: 'nope' }, claims()), 'unknown_kid', { kid: 'nope' }],
      ['alg none', forgeToken({ alg: 'none', kid: 'rsa-1', typ: 'at+jwt' }, claims()), 'bad_alg', { alg: 'none' }],
      [
        'HS256 with the public key as the secret',
        forgeToken({ alg: 'HS256', kid: 'rsa-1', typ: 'at+jwt' }, claims(), new TextEncoder().encode(publicPem)),
        'bad_alg',
        { alg: 'HS256' },
      ],
      ['a tampered payload', tamperPayload(valid, claims({ sub: 'someone-else' })), 'bad_signature'],
      ['no exp', signAccessToken(rsa, claims({ exp: undefined })), 'malformed', { claim: 'exp' }],
      ['no sub', signAccessToken(rsa, claims({ sub: undefined })), 'malformed', { claim: 'sub' }],
      ['a non-numeric exp', signAccessToken(rsa, claims({ exp: 'soon' })), 'malformed', { claim: 'exp' }],
      ['garbage', 'a.b.c', 'malformed'],
    ];
    for (const [label, token, reason, details] of cases) {
      const text = await token;
      const refused = await rejection(verifier, text);
      expect({ label, reason: refused.reason }).toEqual({ label, reason });
      if (details) expect(refused.details).toMatchObject(details);
      expect(JSON.stringify(refused.details)).not.toContain(text.split('.')[2] || text);
    }
  });

  it('refuses algorithms left out of the allow-list even with a valid signature', async () => {
    const verifier = new JwtAccessTokenVerifier(options({ algorithms: ['RS256'] }), clock);
    expect((await rejection(verifier, await signAccessToken(ec, claims()))).reason).toBe('bad_alg');
  });

  it('accepts any of several audiences', async () => {
    const verifier = new JwtAccessTokenVerifier(options({ audience: ['a', TEST_AUDIENCE] }), clock);
    await expect(
      verifier.verify(await signAccessToken(rsa, claims({ aud: ['x', TEST_AUDIENCE] }))),
    ).resolves.toBeDefined();
  });

  describe('JWKS cache', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('fetches the JWKS again on an unknown kid only once the cooldown has passed', async () => {
      // jose keeps its JWKS timestamps with Date.now(); pin it so that the cooldown is exact.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(NOW * 1000);
      const verifier = new JwtAccessTokenVerifier(options({ jwksCooldown: '30s' }), clock);
      const fetchesBefore = server.jwksFetches;
      await verifier.verify(await signAccessToken(rsa, claims()));
      expect(server.jwksFetches).toBe(fetchesBefore + 1);

      const rotated = await generateTestSigningKey('ES256', 'ec-2');
      server.keys = [rotated];
      const token = await signAccessToken(rotated, claims());
      vi.setSystemTime(NOW * 1000 + 29_000);
      expect((await rejection(verifier, token)).reason).toBe('unknown_kid');
      expect(server.jwksFetches).toBe(fetchesBefore + 1);
      // The old key keeps working until the JWKS is fetched again.
      await expect(verifier.verify(await signAccessToken(rsa, claims()))).resolves.toBeDefined();

      vi.setSystemTime(NOW * 1000 + 31_000);
      await expect(verifier.verify(token)).resolves.toMatchObject({ kid: 'ec-2' });
      expect(server.jwksFetches).toBe(fetchesBefore + 2);
      // The retired key is gone with the refetch.
      expect((await rejection(verifier, await signAccessToken(rsa, claims()))).reason).toBe('unknown_kid');
    });

    it('fetches the JWKS again once it is older than jwksCacheMaxAge', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(NOW * 1000);
      const verifier = new JwtAccessTokenVerifier(options({ jwksCacheMaxAge: '10m' }), clock);
      const fetchesBefore = server.jwksFetches;
      const token = await signAccessToken(rsa, claims({ exp: NOW + 3600 }));
      await verifier.verify(token);
      vi.setSystemTime(NOW * 1000 + 9 * 60_000);
      await verifier.verify(token);
      expect(server.jwksFetches).toBe(fetchesBefore + 1);
      vi.setSystemTime(NOW * 1000 + 11 * 60_000);
      await verifier.verify(token);
      expect(server.jwksFetches).toBe(fetchesBefore + 2);
    });
  });

  it('answers TokenCheckUnavailableError when the JWKS cannot be fetched', async () => {
    const verifier = new JwtAccessTokenVerifier(
      options({ jwksUrl: `${server.origin}/missing.json` } as Partial<OAuthOptions>),
      clock,
    );
    const error = await verifier.verify(await signAccessToken(rsa, claims())).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TokenCheckUnavailableError);
    expect(error).toMatchObject({ dependency: 'jwks' });
  });
});
