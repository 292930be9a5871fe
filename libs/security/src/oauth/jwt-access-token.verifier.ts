import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { Clock } from '../core/clock.js';
import { joseRejectionOf, TokenCheckUnavailableError, TokenRejection } from './core/token-rejection.js';
import type { ResolvedOAuthOptions } from './oauth-options.js';

/** RFC 9068 section 2.1: the `typ` of a JWT access token (jose also accepts `application/at+jwt`). */
export const ACCESS_TOKEN_TYP = 'at+jwt';

// Longest header or claim value copied into an event: enough to recognise it, never a whole payload.
const MAX_DETAIL_LENGTH = 200;

/** A verified JWT access token. */
export interface VerifiedAccessToken {
  readonly claims: JWTPayload;
  readonly kid?: string;
}

/**
 * Verifies JWT access tokens (RFC 9068) against the authorization server's JWKS with `jose`: the algorithm
 * allow-list first (so `none` and an HMAC "signed" with the public key never reach a key), the key by
 * `kid` (the JWKS is cached and fetched again on an unknown `kid` at most once per cooldown), the
 * signature, then `typ: at+jwt`, `iss`, `aud`, `exp` and `nbf` with the leeway, against the injected clock.
 */
export class JwtAccessTokenVerifier {
  private readonly jwks: JWTVerifyGetKey;

  constructor(
    private readonly options: ResolvedOAuthOptions,
    private readonly clock: Clock,
  ) {
    const remote = createRemoteJWKSet(new URL(options.jwksUrl), {
      cooldownDuration: options.jwksCooldownMs,
      cacheMaxAge: options.jwksCacheMaxAgeMs,
    });
    this.jwks = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (error) {
        // A key-selection error is about the token; anything else (fetch, timeout, bad JSON) is the JWKS's.
        if (joseRejectionOf(error)) throw error;
        throw new TokenCheckUnavailableError('jwks', { cause: error });
      }
    };
  }

  /** Returns the claims, or throws `TokenRejection` (the token is refused) or `TokenCheckUnavailableError`. */
  async verify(token: string): Promise<VerifiedAccessToken> {
    const seen = unverifiedDetails(token);
    try {
      const { payload, protectedHeader } = await jwtVerify(token, this.jwks, {
        algorithms: [...this.options.algorithms],
        issuer: this.options.issuer,
        audience: [...this.options.audience],
        typ: ACCESS_TOKEN_TYP,
        clockTolerance: this.options.clockToleranceMs / 1000,
        currentDate: new Date(this.clock.now()),
        // RFC 9068 requires them; without exp a token would never expire, without sub it names nobody.
        requiredClaims: ['exp', 'sub'],
      });
      if (typeof payload.sub !== 'string' || payload.sub === '') {
        throw new TokenRejection('malformed', { ...seen, claim: 'sub' });
      }
      return { claims: payload, ...(typeof protectedHeader.kid === 'string' ? { kid: protectedHeader.kid } : {}) };
    } catch (error) {
      if (error instanceof TokenRejection || error instanceof TokenCheckUnavailableError) throw error;
      const rejection = joseRejectionOf(error);
      if (!rejection) throw new TokenCheckUnavailableError('jwks', { cause: error });
      throw new TokenRejection(
        rejection.reason,
        { ...seen, ...(rejection.claim ? { claim: rejection.claim } : {}) },
        { cause: error },
      );
    }
  }
}

/**
 * What the token claims about itself before it is verified, for the event of a refusal: `alg`, `kid`, `typ`
 * and `iss` (shortened). Never the token, never other claims.
 */
function unverifiedDetails(token: string): Record<string, string> {
  const details: Record<string, string> = {};
  try {
    const header = decodeProtectedHeader(token);
    for (const name of ['alg', 'kid', 'typ'] as const) {
      const value = header[name];
      if (typeof value === 'string') details[name] = value.slice(0, MAX_DETAIL_LENGTH);
    }
  } catch {
    // Not decodable: the refusal says malformed, there is nothing to add.
  }
  try {
    const { iss } = decodeJwt(token);
    if (typeof iss === 'string') details.iss = iss.slice(0, MAX_DETAIL_LENGTH);
  } catch {
    // As above.
  }
  return details;
}
