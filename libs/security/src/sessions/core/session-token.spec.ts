import { bearerCredentialOf } from '../../oauth/core/bearer-token.js';
import { generateSessionToken, isSessionToken, SESSION_TOKEN_PATTERN } from './session-token.js';

describe('session tokens', () => {
  it('are sess_ and 43 base64url characters (256 bits), a new one each time', () => {
    const tokens = new Set(Array.from({ length: 1_000 }, () => generateSessionToken()));
    expect(tokens.size).toBe(1_000);
    for (const token of tokens) {
      expect(token).toMatch(SESSION_TOKEN_PATTERN);
      expect(Buffer.from(token.slice(5), 'base64url')).toHaveLength(32);
    }
  });

  it('are recognised by shape only', () => {
    expect(isSessionToken(generateSessionToken())).toBe(true);
    for (const bad of [
      'sess_',
      `sess_${'A'.repeat(42)}`,
      `sess_${'A'.repeat(44)}`,
      `sess_${'A'.repeat(42)}=`,
      `Sess_${'A'.repeat(43)}`,
      42,
      undefined,
    ]) {
      expect(isSessionToken(bad)).toBe(false);
    }
  });

  it('are what the bearer split hands to sessions, never to OAuth', () => {
    expect(bearerCredentialOf(`Bearer ${generateSessionToken()}`)).toEqual({ kind: 'session' });
    expect(bearerCredentialOf(`bearer  ${generateSessionToken()}`)).toEqual({ kind: 'session' });
  });
});
