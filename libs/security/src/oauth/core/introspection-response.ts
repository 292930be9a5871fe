import { TokenRejection } from './token-rejection.js';

/** What the introspected token must match: the same checks as a JWT access token. */
export interface IntrospectionExpectations {
  readonly issuer: string;
  readonly audience: readonly string[];
  readonly clockToleranceMs: number;
  /** Now, in milliseconds since the epoch. */
  readonly nowMs: number;
}

/**
 * Checks an RFC 7662 introspection answer and returns its claims: `active` must be `true`, `sub` a string,
 * `exp` (when given) not past and `nbf` (when given) not ahead beyond the leeway, `iss` (when given) the
 * issuer, `aud` (when given) one of the audiences, and `token_type` (when given) an access token. Throws
 * `TokenRejection` otherwise. The answer is trusted for what it states (it came over TLS from the
 * authorization server with our client credentials); missing optional members are not invented.
 * @example checkIntrospection({ active: true, sub: 'u1', scope: 'items:read' }, expectations)
 */
export function checkIntrospection(
  answer: unknown,
  { issuer, audience, clockToleranceMs, nowMs }: IntrospectionExpectations,
): Readonly<Record<string, unknown>> {
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) {
    throw new TokenRejection('malformed', { source: 'introspection' });
  }
  const claims = answer as Record<string, unknown>;
  if (claims.active !== true) throw new TokenRejection('inactive', { source: 'introspection' });
  const details = { source: 'introspection', ...(typeof claims.iss === 'string' ? { iss: claims.iss } : {}) };
  if (claims.iss !== undefined && claims.iss !== issuer) throw new TokenRejection('bad_issuer', details);
  if (claims.aud !== undefined && !audienceMatches(claims.aud, audience)) {
    throw new TokenRejection('bad_audience', details);
  }
  // RFC 7662 names token types as RFC 6749 does (`Bearer`, case-insensitive); a refresh token is no access token.
  if (typeof claims.token_type === 'string' && claims.token_type.toLowerCase() === 'refresh_token') {
    throw new TokenRejection('bad_typ', details);
  }
  const toleranceSeconds = clockToleranceMs / 1000;
  const now = nowMs / 1000;
  if (claims.exp !== undefined) {
    if (typeof claims.exp !== 'number') throw new TokenRejection('malformed', { ...details, claim: 'exp' });
    if (claims.exp <= now - toleranceSeconds) throw new TokenRejection('expired', details);
  }
  if (claims.nbf !== undefined) {
    if (typeof claims.nbf !== 'number') throw new TokenRejection('malformed', { ...details, claim: 'nbf' });
    if (claims.nbf > now + toleranceSeconds) throw new TokenRejection('not_yet_valid', details);
  }
  if (typeof claims.sub !== 'string' || claims.sub === '') {
    throw new TokenRejection('malformed', { ...details, claim: 'sub' });
  }
  return claims;
}

function audienceMatches(value: unknown, audience: readonly string[]): boolean {
  if (typeof value === 'string') return audience.includes(value);
  return Array.isArray(value) && value.some((entry) => typeof entry === 'string' && audience.includes(entry));
}
