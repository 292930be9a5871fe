import { bearerCredentialOf, clientIdOf, isCompactJwt, mfaAtOf } from './bearer-token.js';

describe('bearerCredentialOf', () => {
  it.each<[string | undefined, ReturnType<typeof bearerCredentialOf>]>([
    [undefined, { kind: 'none' }],
    ['Basic dXNlcjpwYXNz', { kind: 'none' }],
    ['AWS4-HMAC-SHA256 Credential=x', { kind: 'none' }],
    ['Bearerx abc', { kind: 'none' }],
    ['Bearer eyJ.a.b', { kind: 'token', token: 'eyJ.a.b' }],
    ['bearer abc', { kind: 'token', token: 'abc' }],
    ['BEARER abc==', { kind: 'token', token: 'abc==' }],
    ['Bearer  abc ', { kind: 'token', token: 'abc' }],
    ['Bearer sess_abc', { kind: 'session' }],
    ['bearer sess_abc', { kind: 'session' }],
    ['Bearer', { kind: 'malformed' }],
    ['Bearer ', { kind: 'malformed' }],
    ['Bearer a b', { kind: 'malformed' }],
    ['Bearer a=b', { kind: 'malformed' }],
    ['Bearer abc,def', { kind: 'malformed' }],
  ])('reads %j', (header, expected) => {
    expect(bearerCredentialOf(header)).toEqual(expected);
  });
});

describe('isCompactJwt', () => {
  it('is true for exactly three parts', () => {
    expect(isCompactJwt('a.b.c')).toBe(true);
    expect(isCompactJwt('opaque-token')).toBe(false);
    expect(isCompactJwt('a.b.c.d.e')).toBe(false);
  });
});

describe('clientIdOf', () => {
  it('prefers client_id (RFC 9068) to azp, and ignores non-strings', () => {
    expect(clientIdOf({ client_id: 'a', azp: 'b' })).toBe('a');
    expect(clientIdOf({ azp: 'b' })).toBe('b');
    expect(clientIdOf({ client_id: 7, azp: 'b' })).toBe('b');
    expect(clientIdOf({})).toBeUndefined();
  });
});

describe('mfaAtOf', () => {
  const authTime = Date.UTC(2026, 0, 1) / 1000;

  it('is auth_time when amr names mfa or otp', () => {
    expect(mfaAtOf({ amr: ['pwd', 'otp'], auth_time: authTime })).toEqual(new Date(authTime * 1000));
    expect(mfaAtOf({ amr: ['mfa'], auth_time: authTime })).toEqual(new Date(authTime * 1000));
  });

  it('is undefined without a second factor in amr, or without a usable auth_time', () => {
    expect(mfaAtOf({ amr: ['pwd'], auth_time: authTime })).toBeUndefined();
    expect(mfaAtOf({ amr: 'mfa', auth_time: authTime })).toBeUndefined();
    expect(mfaAtOf({ amr: ['otp'] })).toBeUndefined();
    expect(mfaAtOf({ amr: ['otp'], auth_time: String(authTime) })).toBeUndefined();
    expect(mfaAtOf({ amr: ['otp'], auth_time: 1e20 })).toBeUndefined();
  });
});
