import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { SecurityEvents } from '../audit/security-events.service.js';
import { CredentialCache } from '../changes/credential-cache.js';
import { SecurityChangeBus } from '../changes/security-change.bus.js';
import { Clock } from '../core/clock.js';
import { parseLimit } from '../core/durations.js';
import { InvalidCredentialsError, SecurityStoreUnavailableError } from '../core/errors.js';
import { headerCount, summarizeRequest, type HttpRequestLike } from '../http/http-request.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { Authenticator } from '../principals/authenticator.js';
import type { Principal } from '../principals/principal.js';
import { PrincipalStore, type PrincipalAccess } from '../principals/principal.store.js';
import { SECURITY_OPTIONS } from '../security.constants.js';
import { bearerCredentialOf, clientIdOf, isCompactJwt, mfaAtOf } from './core/bearer-token.js';
import { scopesOf, tokenPermissions } from './core/token-permissions.js';
import { TokenCheckUnavailableError, TokenRejection } from './core/token-rejection.js';
import { JwtAccessTokenVerifier } from './jwt-access-token.verifier.js';
import type { ResolvedOAuthOptions } from './oauth-options.js';
import { TokenIntrospector } from './token-introspector.js';

const HEADER = 'authorization';

interface CachedPrincipal {
  readonly record: { readonly principalId: string };
  readonly access: PrincipalAccess;
}

/**
 * OAuth 2.0 bearer tokens (`Authorization: Bearer <token>`, except `sess_…` session tokens): a JWT access
 * token verified by `JwtAccessTokenVerifier`, or an opaque one through introspection when configured. The
 * principal is the local principal whose id is the token's `sub`, with the permissions its scopes grant
 * intersected with its roles' (`scopeMap`), the client (`client_id` or `azp`) and, from `amr` and
 * `auth_time`, when the user last proved a second factor. Every refusal is an `InvalidCredentialsError` with
 * its precise reason and a `TOKEN_REJECTED` event; the token itself is never recorded.
 */
@Injectable()
export class BearerTokenAuthenticator extends Authenticator implements OnApplicationBootstrap, OnModuleDestroy {
  readonly name = 'oauth';
  readonly challenge = 'Bearer realm="api"';
  private readonly logger = new Logger('Security');
  private readonly options: ResolvedOAuthOptions;
  private readonly verifier: JwtAccessTokenVerifier;
  private readonly introspector: TokenIntrospector | undefined;
  // Principal rows by id, dropped by change broadcasts, so a disabled user or a changed role counts at once.
  private readonly principals: CredentialCache<CachedPrincipal>;
  private outage = false;

  constructor(
    @Inject(SECURITY_OPTIONS) options: ResolvedSecurityOptions,
    private readonly store: PrincipalStore,
    private readonly events: SecurityEvents,
    private readonly clock: Clock,
    bus: SecurityChangeBus,
  ) {
    super();
    if (!options.oauth) throw new Error('BearerTokenAuthenticator needs the oauth option');
    this.options = options.oauth;
    this.verifier = new JwtAccessTokenVerifier(this.options, clock);
    this.introspector = this.options.introspection
      ? new TokenIntrospector(this.options, this.options.introspection, clock)
      : undefined;
    this.principals = new CredentialCache({ bus, kind: 'principal' });
  }

  present(request: HttpRequestLike): boolean {
    const credential = bearerCredentialOf(authorizationOf(request));
    return credential.kind === 'token' || credential.kind === 'malformed';
  }

  async authenticate(request: HttpRequestLike): Promise<Principal> {
    try {
      const principal = await this.verify(request);
      this.outage = false;
      return principal;
    } catch (error) {
      if (error instanceof TokenRejection) {
        void this.events.record({
          type: 'TOKEN_REJECTED',
          outcome: 'denied',
          status: 401,
          ...(typeof error.details.principalId === 'string' ? { principalId: error.details.principalId } : {}),
          request: summarizeRequest(request),
          details: { reason: error.reason, ...error.details },
        });
        throw new InvalidCredentialsError(error.reason, { scheme: 'bearer', ...error.details });
      }
      if (error instanceof TokenCheckUnavailableError) {
        if (!this.outage) {
          const cause = error.cause instanceof Error ? error.cause.message : String(error.cause);
          this.logger.warn(`OAuth: the ${error.dependency} endpoint cannot be used (${cause}); bearer tokens get 503`);
        }
        this.outage = true;
        void this.events.record({
          type: 'TOKEN_REJECTED',
          outcome: 'failure',
          status: 503,
          request: summarizeRequest(request),
          details: { reason: `${error.dependency}_unavailable` },
        });
        throw new SecurityStoreUnavailableError(error.dependency, 1, { cause: error });
      }
      throw error;
    }
  }

  onApplicationBootstrap(): void {
    const { issuer, audience, jwksUrl, algorithms, introspection } = this.options;
    this.logger.log(
      `OAuth bearer tokens: issuer ${issuer}, audience ${audience.join(', ')}, JWKS ${jwksUrl} ` +
        `(${algorithms.join(', ')}); introspection of opaque tokens: ${introspection ? introspection.url : 'off'}`,
    );
  }

  onModuleDestroy(): void {
    this.principals.close();
  }

  private async verify(request: HttpRequestLike): Promise<Principal> {
    // Node keeps only the first of repeated Authorization headers; a second credential must not hide.
    if (headerCount(request, HEADER) > 1) throw new TokenRejection('ambiguous');
    const credential = bearerCredentialOf(authorizationOf(request));
    if (credential.kind !== 'token') throw new TokenRejection('malformed');
    const { token } = credential;
    let claims: Readonly<Record<string, unknown>>;
    let kid: string | undefined;
    if (isCompactJwt(token)) {
      const verified = await this.verifier.verify(token);
      claims = verified.claims;
      kid = verified.kid;
    } else if (this.introspector) {
      claims = await this.introspector.introspect(token);
    } else {
      throw new TokenRejection('malformed', { format: 'opaque' });
    }
    const subject = claims.sub as string;
    const clientId = clientIdOf(claims);
    const about = {
      sub: subject,
      ...(kid !== undefined ? { kid } : {}),
      ...(typeof claims.iss === 'string' ? { iss: claims.iss } : {}),
      ...(clientId !== undefined ? { clientId } : {}),
    };
    const access = await this.accessOf(subject);
    if (!access) throw new TokenRejection('unknown_subject', about);
    const principal = access.principal;
    if (principal.disabledAt) throw new TokenRejection('principal_disabled', { ...about, principalId: principal.id });
    const mfaAt = mfaAtOf(claims);
    const rateLimit = principal.attributes?.rateLimit;
    return Object.freeze({
      id: principal.id,
      kind: principal.kind,
      roles: Object.freeze([...access.roles]),
      permissions: Object.freeze(tokenPermissions(scopesOf(claims), this.options.scopeMap, access.permissions)),
      attributes: principal.attributes,
      authMethod: 'oauth',
      createdAt: principal.createdAt,
      ...(clientId !== undefined ? { clientId } : {}),
      ...(mfaAt ? { mfaAt } : {}),
      // A principal's own rate limit (its `rateLimit` attribute) applies as it does with API keys.
      ...(typeof rateLimit === 'string' && parseLimit(rateLimit)
        ? { rateLimit: Object.freeze({ limit: rateLimit, per: 'principal' as const }) }
        : {}),
    });
  }

  // A store that cannot answer is a 503 (deny, retry later), never a 500 and never an accepted token.
  private async accessOf(id: string): Promise<PrincipalAccess | undefined> {
    if (this.principals.isUnknown(id)) return undefined;
    const cached = this.principals.get(id);
    if (cached) return cached.access;
    try {
      const entry = await this.principals.load(id, async () => {
        const access = await this.store.accessOf(id);
        return access ? { record: { principalId: access.principal.id }, access } : null;
      });
      return entry?.access;
    } catch (error) {
      throw new SecurityStoreUnavailableError('credential', 2, { cause: error });
    }
  }
}

function authorizationOf(request: HttpRequestLike): string | undefined {
  const value = request.headers[HEADER];
  return typeof value === 'string' ? value : undefined;
}
