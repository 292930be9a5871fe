/**
 * Errors of nest-api-security. They carry a stable machine-readable `code` and typed context and know
 * nothing of HTTP: the one exception filter maps codes to statuses (see `http/problem-types.ts`).
 */

/** Base class of every error this library throws on purpose. */
export class SecurityError extends Error {
  /** Stable code, `ERR_SECURITY_<SNAKE>`: safe to match on, never changes between minor versions. */
  readonly code: string = 'ERR_SECURITY';

  constructor(
    message: string,
    /** Details for logs and the audit trail; never sent to clients. */
    readonly context: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Configuration rejected at boot. The message names the option and the fix. */
export class SecurityConfigError extends SecurityError {
  constructor(
    override readonly code: `ERR_SECURITY_CONFIG_${string}`,
    /** Dotted path of the offending option, e.g. `rateLimit.policies.ip`. */
    readonly option: string,
    message: string,
  ) {
    super(`${option}: ${message}`, { option });
  }
}

/** No credential was presented on a route that needs one. */
export class AuthenticationRequiredError extends SecurityError {
  override readonly code = 'ERR_SECURITY_AUTHENTICATION_REQUIRED';
  constructor(context: Record<string, unknown> = {}) {
    super('Authentication is required', context);
  }
}

/**
 * Why a bearer token was refused (see oauth/core/token-rejection.ts). The client always gets the same 401; the
 * `TOKEN_REJECTED` and `AUTH_FAILED` events keep the reason.
 */
export type TokenFailureReason =
  | 'malformed'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_issuer'
  | 'bad_audience'
  | 'bad_typ'
  | 'unknown_kid'
  | 'bad_signature'
  | 'bad_alg'
  | 'unknown_subject'
  | 'principal_disabled'
  | 'inactive'
  | 'ambiguous';

/** Reasons a credential is refused. Clients all see the same answer; the audit row keeps the reason. */
export type CredentialFailureReason =
  | 'missing'
  | 'checksum'
  | 'unknown'
  | 'mismatch'
  | 'revoked'
  | 'ip_not_allowed'
  | 'scheme_unsupported'
  | TokenFailureReason;

/**
 * A request signature was refused. `reason` is the exact cause (a `SignatureFailureReason` such as
 * `bad_signature`, `expired`, `replayed`); clients get the same 401 as any refused credential.
 */
export class SignatureRejectedError extends SecurityError {
  override readonly code = 'ERR_SECURITY_SIGNATURE_REJECTED';
  constructor(
    readonly reason: string,
    context: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(`Request signature refused: ${reason}`, { reason, ...context }, options);
  }
}

/** A credential was presented and refused. */
export class InvalidCredentialsError extends SecurityError {
  override readonly code = 'ERR_SECURITY_CREDENTIALS_INVALID';
  constructor(
    readonly reason: CredentialFailureReason,
    context: Record<string, unknown> = {},
  ) {
    super(`Credentials refused (${reason})`, { ...context, reason });
  }
}

/** An administrative operation was refused: unknown target, invalid input, or a state that forbids it. */
export class SecurityOperationError extends SecurityError {
  constructor(
    override readonly code: `ERR_SECURITY_${string}`,
    message: string,
    /** 400 for bad input, 404 for an unknown target, 409 for a conflicting state. */
    readonly kind: 'invalid' | 'not_found' | 'conflict',
    context: Record<string, unknown> = {},
  ) {
    super(message, context);
  }
}

/** The principal is authenticated but lacks a permission. */
export class PermissionDeniedError extends SecurityError {
  override readonly code = 'ERR_SECURITY_PERMISSION_DENIED';
  constructor(context: Record<string, unknown> = {}) {
    super('Permission denied', context);
  }
}

/**
 * The resource does not exist, or the caller may not know that it does: both answer the same 404, so ids
 * cannot be probed. `hidden` (context) marks the second case, which is recorded as a denial.
 */
export class ResourceNotFoundError extends SecurityError {
  override readonly code = 'ERR_SECURITY_RESOURCE_NOT_FOUND';
  constructor(context: Record<string, unknown> = {}) {
    super('No such resource', context);
  }
}

/** One rejected input field; `reason` must never echo the raw value. */
export interface InvalidParam {
  readonly name: string;
  readonly reason: string;
}

/**
 * What the security event records about one refused input: the field, the rule it broke and, for fields
 * that are not secrets, the start of the value (at most 32 characters). Never sent to the client.
 */
export interface InputViolation {
  readonly name: string;
  readonly rule: string;
  readonly value?: string;
}

/** The request's input failed validation. */
export class InvalidInputError extends SecurityError {
  override readonly code = 'ERR_SECURITY_INVALID_INPUT';
  constructor(
    readonly invalidParams: readonly InvalidParam[],
    detail = 'The request has invalid parameters',
    context: Record<string, unknown> = {},
    /** For the `INVALID_INPUT` event; defaults to the params, each with the rule `invalid`. */
    readonly violations: readonly InputViolation[] = invalidParams.map(({ name }) => ({ name, rule: 'invalid' })),
  ) {
    super(detail, context);
  }
}

/** The request body could not be parsed. */
export class MalformedBodyError extends SecurityError {
  override readonly code = 'ERR_SECURITY_MALFORMED_BODY';
  constructor(context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('The request body is not valid JSON', context, options);
  }
}

/** The request body is larger than the limit. */
export class PayloadTooLargeError extends SecurityError {
  override readonly code = 'ERR_SECURITY_PAYLOAD_TOO_LARGE';
  constructor(context: Record<string, unknown> = {}) {
    super('The request body is too large', context);
  }
}

/** The request body has a content type or encoding the route does not take (JSON only for DTO bodies). */
export class UnsupportedMediaTypeError extends SecurityError {
  override readonly code = 'ERR_SECURITY_UNSUPPORTED_MEDIA_TYPE';
  constructor(context: Record<string, unknown> = {}) {
    super('The request body has an unsupported media type', context);
  }
}

/** A rate-limit policy refused the request. */
export class RateLimitExceededError extends SecurityError {
  override readonly code = 'ERR_SECURITY_RATE_LIMITED';
  /** The security event was already written (the rate limiter reports refusals itself, summarised). */
  readonly recorded: boolean;
  constructor(
    readonly retryAfterSeconds: number,
    context: Record<string, unknown> = {},
    { recorded = false }: { recorded?: boolean } = {},
  ) {
    super('Too many requests', context);
    this.recorded = recorded;
  }
}

/** A store the decision depends on is unavailable, so the request is refused rather than let through. */
export class SecurityStoreUnavailableError extends SecurityError {
  override readonly code = 'ERR_SECURITY_STORE_UNAVAILABLE';
  constructor(
    readonly store: string,
    readonly retryAfterSeconds = 1,
    options?: { cause?: unknown },
  ) {
    super(`The ${store} store is unavailable`, { store }, options);
  }
}

/**
 * A deprecated route is closed to principals created on or after `closedToNewClientsAt`; older ones keep
 * working until the sunset. `successor` (when the lifecycle names one) goes into the problem body.
 */
export class DeprecatedClosedError extends SecurityError {
  override readonly code = 'ERR_SECURITY_DEPRECATED_CLOSED';
  constructor(
    readonly successor: string | undefined,
    context: Record<string, unknown> = {},
  ) {
    super('This deprecated API is closed to new clients', context);
  }
}

/**
 * A deprecated route is past its sunset, or inside a brownout window (then `retryAfterSeconds` is the time
 * until the window ends).
 */
export class GoneError extends SecurityError {
  override readonly code = 'ERR_SECURITY_GONE';
  constructor(
    readonly successor: string | undefined,
    readonly retryAfterSeconds: number | undefined,
    context: Record<string, unknown> = {},
  ) {
    super(retryAfterSeconds === undefined ? 'This API has been removed' : 'This API is in a brownout', context);
  }
}

/**
 * The route needs a second factor proved within `maxAgeSec` (`@RequireMfa()`), and the session or token has
 * none that recent. Answered 401 with `WWW-Authenticate: Bearer error="insufficient_user_authentication"`
 * (RFC 9470).
 */
export class MfaRequiredError extends SecurityError {
  override readonly code = 'ERR_SECURITY_MFA_REQUIRED';
  constructor(
    readonly maxAgeSec: number,
    context: Record<string, unknown> = {},
  ) {
    super('A recent second factor is required', { maxAgeSec, ...context });
  }
}

/** A TOTP or recovery code was refused (wrong, replayed, used, or no factor enrolled); `reason` says which. */
export class MfaCodeRejectedError extends SecurityError {
  override readonly code = 'ERR_SECURITY_MFA_CODE_REJECTED';
  constructor(
    readonly reason: string,
    context: Record<string, unknown> = {},
  ) {
    super(`Second-factor code refused (${reason})`, { reason, ...context });
  }
}
