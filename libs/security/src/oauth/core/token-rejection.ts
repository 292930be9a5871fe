import type { TokenFailureReason } from '../../core/errors.js';

/** Why a bearer token was refused: one list, kept with the other credential failure reasons. */
export type TokenRejectionReason = TokenFailureReason;

/** A token refused with its reason, and what may be recorded about it (never the token). */
export class TokenRejection extends Error {
  constructor(
    readonly reason: TokenRejectionReason,
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown },
  ) {
    super(`Bearer token refused (${reason})`, options);
    this.name = 'TokenRejection';
  }
}

/**
 * The token could not be checked because the authorization server (its JWKS or introspection endpoint)
 * did not answer usefully. Not the client's fault: answered 503, never 401 and never accepted.
 */
export class TokenCheckUnavailableError extends Error {
  constructor(
    readonly dependency: 'jwks' | 'introspection',
    options?: { cause?: unknown },
  ) {
    super(`The OAuth ${dependency} endpoint is unavailable`, options);
    this.name = 'TokenCheckUnavailableError';
  }
}

/** The refusal a `jose` error stands for, with the claim at fault when there is one. */
export interface JoseRejection {
  readonly reason: TokenRejectionReason;
  readonly claim?: string;
}

/**
 * Maps an error thrown by `jose` while verifying a JWT access token to a refusal reason; `undefined` for an
 * error that says nothing about the token (the JWKS could not be fetched or parsed, a timeout, a bug).
 * Reads the stable `code` (and `claim`) of jose's errors, so it needs no jose import.
 * @example joseRejectionOf(new JWTExpired('…', {}, 'exp')) // { reason: 'expired', claim: 'exp' }
 */
export function joseRejectionOf(error: unknown): JoseRejection | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, claim, reason } = error as { code?: unknown; claim?: unknown; reason?: unknown };
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return { reason: 'expired', claim: typeof claim === 'string' ? claim : 'exp' };
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return claimRejection(typeof claim === 'string' ? claim : undefined, reason);
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    // An algorithm jose cannot use with a JWKS (unknown, or symmetric).
    case 'ERR_JOSE_NOT_SUPPORTED':
      return { reason: 'bad_alg' };
    case 'ERR_JWKS_NO_MATCHING_KEY':
    // No kid and several keys fit: the token does not say which key signed it.
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return { reason: 'unknown_kid' };
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return { reason: 'bad_signature' };
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return { reason: 'malformed' };
    default:
      return undefined;
  }
}

function claimRejection(claim: string | undefined, reason: unknown): JoseRejection {
  const found = claim === undefined ? {} : { claim };
  // `missing` or `invalid` (not a number...) is a malformed token; `check_failed` is a value we refuse.
  if (reason === 'check_failed' || reason === 'missing') {
    if (claim === 'iss') return { reason: 'bad_issuer', ...found };
    if (claim === 'aud') return { reason: 'bad_audience', ...found };
    if (claim === 'typ') return { reason: 'bad_typ', ...found };
  }
  if (reason === 'check_failed' && claim === 'nbf') return { reason: 'not_yet_valid', ...found };
  return { reason: 'malformed', ...found };
}
