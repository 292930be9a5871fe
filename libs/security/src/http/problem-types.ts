import type { SecurityError } from '../core/errors.js';

/** How one kind of error is answered: status, `type` slug and the generic title clients see. */
export interface ProblemType {
  readonly status: number;
  readonly slug: string;
  readonly title: string;
  /** Generic detail for clients; the exact reason stays in the audit row. */
  readonly detail: string;
}

/**
 * The one mapping from `SecurityError` codes to HTTP. Every answer a client can get from this library is
 * listed here, and documented in docs/problems.md under the same slug.
 */
export const PROBLEM_TYPES: Readonly<Record<string, ProblemType>> = Object.freeze({
  ERR_SECURITY_AUTHENTICATION_REQUIRED: {
    status: 401,
    slug: 'unauthenticated',
    title: 'Unauthorized',
    detail: 'Valid credentials are required to access this resource.',
  },
  // Same slug, title and detail as a missing credential: a client learns nothing about why a key failed.
  ERR_SECURITY_CREDENTIALS_INVALID: {
    status: 401,
    slug: 'unauthenticated',
    title: 'Unauthorized',
    detail: 'Valid credentials are required to access this resource.',
  },
  ERR_SECURITY_SIGNATURE_REJECTED: {
    status: 401,
    slug: 'unauthenticated',
    title: 'Unauthorized',
    detail: 'Valid credentials are required to access this resource.',
  },
  ERR_SECURITY_PERMISSION_DENIED: {
    status: 403,
    slug: 'forbidden',
    title: 'Forbidden',
    detail: 'You do not have permission to perform this action.',
  },
  ERR_SECURITY_RESOURCE_NOT_FOUND: {
    status: 404,
    slug: 'not-found',
    title: 'Not Found',
    detail: 'No resource exists at this address.',
  },
  ERR_SECURITY_INVALID_GRANT: {
    status: 400,
    slug: 'invalid-request',
    title: 'Bad Request',
    detail: 'The request has invalid parameters.',
  },
  ERR_SECURITY_UNKNOWN_PRINCIPAL: {
    status: 404,
    slug: 'not-found',
    title: 'Not Found',
    detail: 'No resource exists at this address.',
  },
  ERR_SECURITY_INVALID_INPUT: {
    status: 400,
    slug: 'invalid-request',
    title: 'Bad Request',
    detail: 'The request has invalid parameters.',
  },
  ERR_SECURITY_MALFORMED_BODY: {
    status: 400,
    slug: 'malformed-body',
    title: 'Bad Request',
    detail: 'The request body could not be parsed.',
  },
  ERR_SECURITY_PAYLOAD_TOO_LARGE: {
    status: 413,
    slug: 'payload-too-large',
    title: 'Content Too Large',
    detail: 'The request body is larger than this endpoint accepts.',
  },
  ERR_SECURITY_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    slug: 'unsupported-media-type',
    title: 'Unsupported Media Type',
    detail: 'This endpoint takes a JSON body (Content-Type: application/json, no Content-Encoding).',
  },
  ERR_SECURITY_RATE_LIMITED: {
    status: 429,
    slug: 'rate-limited',
    title: 'Too Many Requests',
    detail: 'Too many requests; retry after the time given in Retry-After.',
  },
  ERR_SECURITY_MFA_REQUIRED: {
    status: 401,
    slug: 'mfa-required',
    title: 'Unauthorized',
    detail: 'This operation needs a recent second factor: verify a code at POST /mfa/verify, then retry.',
  },
  // 403, not 401: the session or token stays valid; only the code was refused.
  ERR_SECURITY_MFA_CODE_REJECTED: {
    status: 403,
    slug: 'mfa-code-rejected',
    title: 'Forbidden',
    detail: 'The second-factor code was not accepted.',
  },
  ERR_SECURITY_DEPRECATED_CLOSED: {
    status: 403,
    slug: 'deprecated-closed',
    title: 'Forbidden',
    detail: 'This deprecated API no longer accepts new clients; use its successor.',
  },
  ERR_SECURITY_GONE: {
    status: 410,
    slug: 'gone',
    title: 'Gone',
    detail: 'This API has been retired; use its successor.',
  },
  ERR_SECURITY_STORE_UNAVAILABLE: {
    status: 503,
    slug: 'service-unavailable',
    title: 'Service Unavailable',
    detail: 'The service is temporarily unable to handle this request; retry later.',
  },
});

/** Problem types for errors that do not come from this library (Nest's HttpException or anything else). */
export const GENERIC_PROBLEM_TYPES = Object.freeze({
  400: { status: 400, slug: 'bad-request', title: 'Bad Request', detail: 'The request could not be processed.' },
  404: { status: 404, slug: 'not-found', title: 'Not Found', detail: 'No resource exists at this address.' },
  405: {
    status: 405,
    slug: 'method-not-allowed',
    title: 'Method Not Allowed',
    detail: 'This method is not allowed here.',
  },
  413: PROBLEM_TYPES.ERR_SECURITY_PAYLOAD_TOO_LARGE,
  415: PROBLEM_TYPES.ERR_SECURITY_UNSUPPORTED_MEDIA_TYPE,
  503: PROBLEM_TYPES.ERR_SECURITY_STORE_UNAVAILABLE,
  500: {
    status: 500,
    slug: 'internal-error',
    title: 'Internal Server Error',
    detail: 'An unexpected error occurred. Quote the request id when reporting it.',
  },
} satisfies Record<number, ProblemType>);

/** Looks up the problem type of a `SecurityError`; an unmapped code is a bug and answers 500. */
export function problemTypeOf(error: SecurityError): ProblemType {
  return PROBLEM_TYPES[error.code] ?? GENERIC_PROBLEM_TYPES[500];
}
