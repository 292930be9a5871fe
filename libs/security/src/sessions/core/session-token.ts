import { randomBytes } from 'node:crypto';
// One definition of the prefix for both sides of the bearer split (sessions here, OAuth tokens there).
import { SESSION_TOKEN_PREFIX } from '../../oauth/core/bearer-token.js';

export { SESSION_TOKEN_PREFIX };

/** A session token: `sess_` and 43 base64url characters (256 random bits). Export for clients' own checks. */
export const SESSION_TOKEN_PATTERN = /^sess_[A-Za-z0-9_-]{43}$/;

/**
 * A new session token: `sess_` + 32 bytes of `crypto.randomBytes` in base64url. Only its hash is stored.
 * @example generateSessionToken() // 'sess_Zq1…' (48 characters)
 */
export function generateSessionToken(): string {
  return `${SESSION_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** Whether `text` has the shape of a session token (checked before any hashing or I/O). */
export function isSessionToken(text: unknown): text is string {
  return typeof text === 'string' && SESSION_TOKEN_PATTERN.test(text);
}
