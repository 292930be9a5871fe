import fc from 'fast-check';
import { bearerCredentialOf } from '../../oauth/core/bearer-token.js';
import { generateSessionToken, isSessionToken } from './session-token.js';

describe('isSessionToken (fast-check, fixed seeds)', () => {
  it('accepts exactly sess_ and 43 base64url characters, for any value', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.anything(), fc.string(), fc.stringMatching(/^sess_[A-Za-z0-9_+/=-]{40,46}\n?$/)),
        (value) => {
          expect(isSessionToken(value)).toBe(
            typeof value === 'string' && /^sess_[A-Za-z0-9_-]{43}$/.test(value) && value.length === 48,
          );
        },
      ),
      { seed: 6265, numRuns: 500 },
    );
  });

  it('accepts every generated token, which the bearer split hands to sessions', () => {
    fc.assert(
      fc.property(fc.constantFrom('Bearer', 'bearer'), (scheme) => {
        const token = generateSessionToken();
        expect(isSessionToken(token)).toBe(true);
        expect(bearerCredentialOf(`${scheme} ${token}`)).toEqual({ kind: 'session' });
      }),
      { seed: 6266, numRuns: 100 },
    );
  });
});
