import fc from 'fast-check';
import { bearerCredentialOf, clientIdOf, isCompactJwt, mfaAtOf, SESSION_TOKEN_PREFIX } from './bearer-token.js';
import { scopesOf } from './token-permissions.js';

const b64token = fc
  .stringMatching(/^[A-Za-z0-9\-._~+/]+=*$/)
  .filter((token) => !token.startsWith(SESSION_TOKEN_PREFIX));
const scheme = fc.constantFrom('Bearer', 'bearer', 'BEARER', 'bEaReR');
// Authorization values near the Bearer grammar: other schemes, extra spaces, tabs, commas, quotes, unicode.
const authorizationish = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc
    .tuple(
      fc.constantFrom('Bearer', 'bearer', 'Basic', 'Bearer\t', 'Bearerx', 'DPoP', ''),
      fc.constantFrom(' ', '  ', '\t', ''),
      fc.string({
        unit: fc.constantFrom(...'aZ09-._~+/= ,"\t'.split(''), '\u00e9', '\ud800', 's', 'e', '_'),
        maxLength: 20,
      }),
    )
    .map((parts) => parts.join('')),
);

describe('bearerCredentialOf (fast-check, fixed seeds)', () => {
  it('classifies any Authorization value as none, session, token or malformed', () => {
    fc.assert(
      fc.property(fc.option(authorizationish, { nil: undefined }), (header) => {
        const credential = bearerCredentialOf(header);
        expect(['none', 'session', 'token', 'malformed']).toContain(credential.kind);
        if (credential.kind === 'token') {
          expect(credential.token).toMatch(/^[A-Za-z0-9\-._~+/]+=*$/);
          expect(credential.token.startsWith(SESSION_TOKEN_PREFIX)).toBe(false);
          expect(header!.toLowerCase().startsWith('bearer ')).toBe(true);
          expect(header!.trim().endsWith(credential.token)).toBe(true);
        }
        if (credential.kind !== 'none') expect(header!.slice(0, 6).toLowerCase()).toBe('bearer');
      }),
      { seed: 6750, numRuns: 600 },
    );
  });

  it('reads back every well-formed token, whatever the case of the scheme and the padding', () => {
    fc.assert(
      fc.property(scheme, b64token, fc.constantFrom('', ' ', '\t '), (name, token, pad) => {
        expect(bearerCredentialOf(`${name} ${pad}${token}${pad}`)).toEqual({ kind: 'token', token });
        expect(bearerCredentialOf(`${name} ${SESSION_TOKEN_PREFIX}${token}`)).toEqual({ kind: 'session' });
      }),
      { seed: 6751, numRuns: 250 },
    );
  });

  it('refuses a token with a character outside the b64token grammar as malformed', () => {
    fc.assert(
      fc.property(
        scheme,
        b64token,
        fc.nat(),
        fc.constantFrom(' ', ',', '"', '\u00e9', '\ud800', '=a', '\u0000'),
        (name, token, at, bad) => {
          const index = 1 + (at % token.length);
          const mutated = token.slice(0, index) + bad + token.slice(index);
          fc.pre(!mutated.startsWith(SESSION_TOKEN_PREFIX) && !/^[A-Za-z0-9\-._~+/]+=*$/.test(mutated));
          fc.pre(mutated.trim() === mutated || index < token.length);
          expect(bearerCredentialOf(`${name} ${mutated}`)).toEqual({ kind: 'malformed' });
        },
      ),
      { seed: 6752, numRuns: 250 },
    );
  });

  it('sees a compact JWS exactly when the token has three dot-separated parts', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[A-Za-z0-9_-]*$/), { minLength: 1, maxLength: 5 }), (parts) => {
        expect(isCompactJwt(parts.join('.'))).toBe(parts.length === 3);
      }),
      { seed: 6753, numRuns: 200 },
    );
  });
});

describe('claims read from a token (fast-check, fixed seeds)', () => {
  const claims = fc.dictionary(
    fc.oneof(fc.constantFrom('client_id', 'azp', 'amr', 'auth_time', 'scope', 'scp', '__proto__'), fc.string()),
    fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom(['otp'], ['mfa', 'pwd'], 1e300, -1, 0, Number.NaN, 8.64e12, 8.64e12 + 1, 'otp'),
    ),
    { maxKeys: 5 },
  );

  it('never throw and return the documented types for any claims', () => {
    fc.assert(
      fc.property(claims, (value) => {
        const clientId = clientIdOf(value);
        if (clientId !== undefined) {
          expect(typeof clientId).toBe('string');
          expect([value.client_id, value.azp]).toContain(clientId);
        }
        const mfaAt = mfaAtOf(value);
        if (mfaAt !== undefined) {
          expect(mfaAt).toBeInstanceOf(Date);
          expect(Number.isNaN(mfaAt.getTime())).toBe(false);
          expect(mfaAt.getTime()).toBe((value.auth_time as number) * 1000);
        }
        const scopes = scopesOf(value);
        expect(scopes.every((scope) => typeof scope === 'string' && scope !== '')).toBe(true);
        expect(new Set(scopes).size).toBe(scopes.length);
      }),
      { seed: 6754, numRuns: 500 },
    );
  });
});
