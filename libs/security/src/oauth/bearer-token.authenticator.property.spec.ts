import fc from 'fast-check';
import { MemorySecurityChangeBus } from '../changes/adapters/memory-security-change.bus.js';
import { ManualClock } from '../core/clock.js';
import { InvalidCredentialsError } from '../core/errors.js';
import type { HttpRequestLike } from '../http/http-request.js';
import { FakeSecurityEvents } from '../monitoring/fake-security-events.test-helpers.js';
import { resolveSecurityOptions } from '../options/resolve-security-options.js';
import { MemoryPrincipalStore } from '../principals/adapters/memory-principal.store.js';
import { BearerTokenAuthenticator } from './bearer-token.authenticator.js';
import {
  TEST_AUDIENCE,
  TEST_ISSUER,
  forgeToken,
  generateTestSigningKey,
  signAccessToken,
  startTestAuthorizationServer,
  type TestAuthorizationServer,
  type TestSigningKey,
} from '../../test/support/oauth.js';

const NOW = Date.UTC(2026, 0, 1);
const NOW_S = NOW / 1000;

function request(authorization: string): HttpRequestLike {
  return {
    method: 'GET',
    url: '/me',
    ip: '127.0.0.1',
    headers: { authorization },
    rawHeaders: ['Authorization', authorization],
  };
}

const base64url = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

// Claim values of every JSON type, near the edges of what the checks compare.
const claimValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(NOW_S - 10, NOW_S + 300, NOW_S + 1e12, -1, 0, 1e308, '1767225900', TEST_ISSUER, TEST_AUDIENCE),
  fc.constantFrom([TEST_AUDIENCE, 'other'], ['other'], 'docs', 'documents:read items:read', ['otp'], null),
);
// Mostly valid, so that every check is reached; a missing member is `undefined` (JSON drops it).
const usually = <T>(valid: T) =>
  fc.oneof(
    { weight: 5, arbitrary: fc.constant(valid) },
    { weight: 1, arbitrary: fc.option(claimValue, { nil: undefined }) },
  );
const sometimes = fc.option(claimValue, { nil: undefined, freq: 2 });
const claims = fc.record({
  iss: usually(TEST_ISSUER),
  aud: usually<unknown>(TEST_AUDIENCE),
  sub: usually('USER'),
  exp: usually(NOW_S + 300),
  nbf: sometimes,
  iat: sometimes,
  scope: sometimes,
  scp: sometimes,
  amr: sometimes,
  auth_time: sometimes,
  client_id: sometimes,
  azp: sometimes,
});
const header = fc.record({
  alg: fc.oneof(
    fc.constantFrom('none', 'None', 'HS256', 'RS256', 'PS256', 'ES256', 'EdDSA', 'RS1', 'unknown'),
    claimValue,
  ),
  kid: usually<unknown>('rsa-1'),
  typ: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('at+jwt', 'application/at+jwt') },
    { weight: 1, arbitrary: fc.option(claimValue, { nil: undefined }) },
  ),
  crit: fc.option(fc.oneof(fc.constant(['b64']), fc.constant(['exp']), claimValue), { nil: undefined, freq: 4 }),
  b64: fc.option(fc.boolean(), { nil: undefined, freq: 4 }),
  jku: fc.option(fc.constant('http://127.0.0.1:1/jwks.json'), { nil: undefined, freq: 4 }),
});
const segment = fc.oneof(
  fc.base64String({ maxLength: 12 }),
  fc.stringMatching(/^[A-Za-z0-9_-]{0,16}$/),
  fc.constantFrom('', 'e30', 'bnVsbA', 'W10', 'MQ', '_-_-', '////'),
  fc.jsonValue({ maxDepth: 1 }).map(base64url),
);

describe('BearerTokenAuthenticator (fast-check, fixed seeds)', () => {
  let idp: TestAuthorizationServer;
  let key: TestSigningKey;
  let otherKey: TestSigningKey;
  let authenticator: BearerTokenAuthenticator;
  let bus: MemorySecurityChangeBus;
  let userId: string;
  const clock = new ManualClock(NOW);

  beforeAll(async () => {
    key = await generateTestSigningKey('RS256', 'rsa-1');
    otherKey = await generateTestSigningKey('ES256', 'ec-1');
    idp = await startTestAuthorizationServer([key]);
    const store = new MemoryPrincipalStore();
    bus = new MemorySecurityChangeBus();
    await bus.start();
    await store.upsertRole('editor', ['documents:read', 'items:read']);
    userId = (await store.create({ kind: 'user', username: 'alice', createdAt: new Date(NOW - 1000) })).id;
    await store.assignRole(userId, 'editor');
    const options = resolveSecurityOptions({
      oauth: {
        issuer: TEST_ISSUER,
        audience: TEST_AUDIENCE,
        jwksUrl: idp.jwksUrl,
        scopeMap: { docs: ['documents:*'] },
      },
    });
    authenticator = new BearerTokenAuthenticator(options, store, new FakeSecurityEvents(clock).asService(), clock, bus);
  });
  afterAll(async () => {
    authenticator.onModuleDestroy();
    await bus.stop();
    await idp.close();
  });

  /** The principal, or the typed refusal; anything else (TypeError, a 503 error) fails the property. */
  async function outcome(authorization: string) {
    try {
      return await authenticator.authenticate(request(authorization));
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidCredentialsError);
      return error as InvalidCredentialsError;
    }
  }

  const withUser = (value: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(value).map(([name, v]) => [name, v === 'USER' ? userId : v]));

  it('refuses any Bearer text and any JWT-shaped token it did not sign with InvalidCredentialsError', async () => {
    const forged = fc.oneof(
      fc
        .tuple(header, claims, fc.constantFrom('none', 'hmac', 'garbage'))
        .map(([h, c, signature]) =>
          signature === 'garbage'
            ? `${forgeToken(h, withUser(c))}${base64url('x'.repeat(16))}`
            : forgeToken(h, withUser(c), signature === 'hmac' ? Buffer.from(JSON.stringify(key.publicJwk)) : undefined),
        ),
      fc.tuple(segment, segment, segment).map((parts) => parts.join('.')),
      fc.stringMatching(/^[A-Za-z0-9\-._~+/]+=*$/),
    );
    const authorization = fc.oneof(
      forged.map((token) => `Bearer ${token}`),
      fc.string().map((text) => `Bearer ${text}`),
      fc.string({ unit: 'binary', maxLength: 30 }).map((text) => `bearer ${text}`),
    );
    await fc.assert(
      fc.asyncProperty(authorization, async (value) => {
        const result = await outcome(value);
        expect(result).toBeInstanceOf(InvalidCredentialsError);
      }),
      { seed: 9068, numRuns: 200 },
    );
  });

  it('accepts a token it signed with random claims only when every check passes, else refuses it typed', async () => {
    await fc.assert(
      fc.asyncProperty(header, claims, fc.boolean(), async (h, c, otherSigner) => {
        const signer = otherSigner ? otherKey : key;
        const typ = typeof h.typ === 'string' ? h.typ : null;
        const kid = typeof h.kid === 'string' ? h.kid : null;
        const token = await signAccessToken(signer, withUser(c), { typ, kid });
        const result = await outcome(`Bearer ${token}`);
        if (!(result instanceof InvalidCredentialsError)) {
          expect(signer).toBe(key);
          expect(result.id).toBe(userId);
          expect(withUser(c).sub).toBe(userId);
          expect(c.iss).toBe(TEST_ISSUER);
          expect(typeof c.exp === 'number' && c.exp > NOW_S - 60).toBe(true);
        }
      }),
      { seed: 9069, numRuns: 100 },
    );
  });
});
