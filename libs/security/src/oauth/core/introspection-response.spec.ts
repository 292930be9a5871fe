import { checkIntrospection, type IntrospectionExpectations } from './introspection-response.js';
import { TokenRejection } from './token-rejection.js';

const NOW = Date.UTC(2026, 0, 1);
const expectations: IntrospectionExpectations = {
  issuer: 'https://idp.test.example/',
  audience: ['demo-api'],
  clockToleranceMs: 30_000,
  nowMs: NOW,
};

function reasonOf(answer: unknown): string | undefined {
  try {
    checkIntrospection(answer, expectations);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(TokenRejection);
    return (error as TokenRejection).reason;
  }
}

describe('checkIntrospection', () => {
  it('returns the claims of an active token', () => {
    const answer = { active: true, sub: 'u1', scope: 'items:read', client_id: 'c', exp: NOW / 1000 + 60 };
    expect(checkIntrospection(answer, expectations)).toEqual(answer);
  });

  it('checks optional members only when present', () => {
    expect(reasonOf({ active: true, sub: 'u1' })).toBeUndefined();
    expect(reasonOf({ active: true, sub: 'u1', iss: expectations.issuer, aud: ['x', 'demo-api'] })).toBeUndefined();
  });

  it.each<[string, unknown, string]>([
    ['an inactive token', { active: false }, 'inactive'],
    ['active as a string', { active: 'true', sub: 'u1' }, 'inactive'],
    ['no object', [], 'malformed'],
    ['no sub', { active: true }, 'malformed'],
    ['another issuer', { active: true, sub: 'u1', iss: 'https://evil.example/' }, 'bad_issuer'],
    ['another audience', { active: true, sub: 'u1', aud: 'other' }, 'bad_audience'],
    ['a refresh token', { active: true, sub: 'u1', token_type: 'refresh_token' }, 'bad_typ'],
    ['an exp past the leeway', { active: true, sub: 'u1', exp: NOW / 1000 - 31 }, 'expired'],
    ['an nbf beyond the leeway', { active: true, sub: 'u1', nbf: NOW / 1000 + 31 }, 'not_yet_valid'],
    ['a string exp', { active: true, sub: 'u1', exp: 'later' }, 'malformed'],
  ])('refuses %s', (_label, answer, reason) => {
    expect(reasonOf(answer)).toBe(reason);
  });

  it('accepts exp and nbf within the leeway', () => {
    expect(reasonOf({ active: true, sub: 'u1', exp: NOW / 1000 - 29, nbf: NOW / 1000 + 29 })).toBeUndefined();
  });
});
