/** How a request proved who it is. */
export type AuthMethod = 'api-key' | 'signature' | 'oauth' | 'session' | 'test';

/** The authenticated caller of a request, as every guard after authentication sees it. */
export interface Principal {
  readonly id: string;
  readonly kind: 'user' | 'service';
  readonly roles: readonly string[];
  /** Effective permissions (`resource:action`), already narrowed by key scopes or token scopes. */
  readonly permissions: readonly string[];
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly authMethod: AuthMethod;
  /** The API key or signing key id that authenticated the request, when there is one. */
  readonly keyId?: string;
  readonly createdAt?: Date;
  /** The OAuth client the bearer token was issued to (`azp` or `client_id`). */
  readonly clientId?: string;
  /** The login session that authenticated the request (`Authorization: Bearer sess_…`). */
  readonly sessionId?: string;
  /** When the user last proved a second factor (session MFA verify, or a token's `auth_time` with `amr` mfa/otp). */
  readonly mfaAt?: Date;
  /**
   * An override of the `principal` rate-limit policy stored with the API key (`per: 'key'`, counted per
   * key) or with the principal (`per: 'principal'`, its `rateLimit` attribute), e.g. `'5000/60s'`.
   */
  readonly rateLimit?: PrincipalRateLimit;
}

/** A per-key or per-principal rate limit (see `Principal.rateLimit`). */
export interface PrincipalRateLimit {
  /** `count/window`, e.g. `'5000/60s'`. */
  readonly limit: string;
  readonly per: 'key' | 'principal';
}
