/** The prefix of session tokens (`Authorization: Bearer sess_…`): those belong to the session authenticator. */
export const SESSION_TOKEN_PREFIX = 'sess_';

// RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** What an `Authorization` header value holds, as far as bearer tokens are concerned. */
export type BearerCredential =
  | { readonly kind: 'none' }
  | { readonly kind: 'session' }
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'malformed' };

/**
 * Reads an `Authorization` header value: `none` when it is absent or another scheme, `session` for a
 * `sess_` token, `token` for any other well-formed bearer token, `malformed` for the `Bearer` scheme
 * with no usable token. The scheme name is case-insensitive (RFC 9110 section 11.1).
 * @example bearerCredentialOf('Bearer eyJ…') // { kind: 'token', token: 'eyJ…' }
 */
export function bearerCredentialOf(header: string | undefined): BearerCredential {
  if (typeof header !== 'string') return { kind: 'none' };
  const space = header.indexOf(' ');
  const scheme = space === -1 ? header : header.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer') return { kind: 'none' };
  const token = space === -1 ? '' : header.slice(space + 1).trim();
  if (token.startsWith(SESSION_TOKEN_PREFIX)) return { kind: 'session' };
  return B64TOKEN.test(token) ? { kind: 'token', token } : { kind: 'malformed' };
}

/** A JWS in compact form has exactly three parts; anything else is opaque (or a JWE) to this server. */
export function isCompactJwt(token: string): boolean {
  return token.split('.').length === 3;
}

/**
 * The OAuth client a token was issued to: `client_id` (RFC 9068), else `azp` (OpenID Connect).
 * @example clientIdOf({ azp: 'web-app' }) // 'web-app'
 */
export function clientIdOf(claims: Readonly<Record<string, unknown>>): string | undefined {
  for (const name of ['client_id', 'azp'] as const) {
    const value = claims[name];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

const SECOND_FACTORS = new Set(['mfa', 'otp']);

/**
 * When the user last proved a second factor, from `amr` (RFC 8176: `mfa` or `otp`) and `auth_time`
 * (unix seconds); undefined unless both say so.
 * @example mfaAtOf({ amr: ['pwd', 'otp'], auth_time: 1767225600 }) // 2026-01-01T00:00:00.000Z
 */
export function mfaAtOf(claims: Readonly<Record<string, unknown>>): Date | undefined {
  const { amr, auth_time: authTime } = claims;
  if (!Array.isArray(amr) || !amr.some((method) => typeof method === 'string' && SECOND_FACTORS.has(method))) {
    return undefined;
  }
  if (typeof authTime !== 'number' || !Number.isFinite(authTime) || authTime <= 0) return undefined;
  const at = new Date(authTime * 1000);
  return Number.isNaN(at.getTime()) ? undefined : at;
}
