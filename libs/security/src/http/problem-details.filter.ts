import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Inject, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { STATUS_CODES } from 'node:http';
import { throwError } from 'rxjs';
import { SecurityEvents } from '../audit/security-events.service.js';
import type { SecurityEventType } from '../audit/security-event-types.js';
import {
  AuthenticationRequiredError,
  DeprecatedClosedError,
  GoneError,
  MfaRequiredError,
  InvalidCredentialsError,
  InvalidInputError,
  MalformedBodyError,
  PayloadTooLargeError,
  RateLimitExceededError,
  SecurityError,
  SecurityOperationError,
  SecurityStoreUnavailableError,
} from '../core/errors.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { principalOf } from '../principals/current-principal.decorator.js';
import { SECURITY_AUTHENTICATORS, SECURITY_OPTIONS } from '../security.constants.js';
import type { Authenticator } from '../principals/authenticator.js';
import { requestIdOf, requestPath, summarizeRequest, type HttpRequestLike } from './http-request.js';
import { GENERIC_PROBLEM_TYPES, problemTypeOf, type ProblemType } from './problem-types.js';

/** An RFC 9457 problem body as this library writes it. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  request_id: string;
  invalid_params?: ReadonlyArray<{ name: string; reason: string }>;
  retry_after?: number;
  /** The successor of a deprecated API (`deprecated-closed` and `gone` problems). */
  successor?: string;
}

const EVENT_OF_CODE: Readonly<Record<string, SecurityEventType>> = {
  ERR_SECURITY_AUTHENTICATION_REQUIRED: 'AUTH_FAILED',
  ERR_SECURITY_CREDENTIALS_INVALID: 'AUTH_FAILED',
  ERR_SECURITY_SIGNATURE_REJECTED: 'SIGNATURE_REJECTED',
  ERR_SECURITY_PERMISSION_DENIED: 'PERMISSION_DENIED',
  ERR_SECURITY_RATE_LIMITED: 'RATE_LIMIT_EXCEEDED',
  ERR_SECURITY_INVALID_INPUT: 'INVALID_INPUT',
  ERR_SECURITY_MALFORMED_BODY: 'INVALID_INPUT',
  ERR_SECURITY_PAYLOAD_TOO_LARGE: 'INVALID_INPUT',
  ERR_SECURITY_UNSUPPORTED_MEDIA_TYPE: 'INVALID_INPUT',
  ERR_SECURITY_MFA_REQUIRED: 'MFA_FAILED',
};

/**
 * The one exception filter: answers every error from any layer as an RFC 9457 problem, decides the
 * status in one place (`PROBLEM_TYPES`), and records the security event. Clients get a generic reason;
 * the event keeps the exact code. Unknown errors become a 500 with nothing internal in the body.
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Security');
  private readonly challenge: string;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly events: SecurityEvents,
    @Inject(SECURITY_OPTIONS) private readonly options: ResolvedSecurityOptions,
    @Inject(SECURITY_AUTHENTICATORS) authenticators: readonly Authenticator[],
  ) {
    const challenges = [...new Set(authenticators.map((a) => a.challenge))];
    this.challenge = (challenges.length > 0 ? challenges : ['ApiKey realm="api"']).join(', ');
  }

  catch(exception: unknown, host: ArgumentsHost): unknown {
    if (host.getType() !== 'http') return throwError(() => exception);
    const http = host.switchToHttp();
    const request = http.getRequest<HttpRequestLike>();
    const response = http.getResponse();
    const error = normalize(exception);
    const sqlState = error instanceof InvalidInputError ? error.context.sqlState : undefined;
    if (typeof sqlState === 'string') {
      // Input the validation let through and the database refused: a DTO is missing a rule.
      this.logger.warn(
        `The database refused a value (SQLSTATE ${sqlState}) on ${request.method} ` +
          `${requestPath(request)} (request ${requestIdOf(request)}): validate this input before it reaches SQL`,
      );
    }
    const problem =
      error instanceof SecurityOperationError
        ? operationProblem(error)
        : error instanceof SecurityError
          ? problemTypeOf(error)
          : problemTypeOfHttp(error);
    if (problem.status >= 500 && !(error instanceof SecurityError) && !(error instanceof HttpException)) {
      this.logger.error(
        `Unhandled error on ${request.method} ${requestPath(request)} (request ${requestIdOf(request)})`,
        exception instanceof Error ? exception.stack : String(exception),
      );
    }

    const body: ProblemBody = {
      type: `${this.options.problems.typeBaseUri}${problem.slug}`,
      title: problem.title,
      status: problem.status,
      detail: detailFor(error, problem),
      instance: requestPath(request),
      request_id: requestIdOf(request, this.options.requestId ? this.options.requestId.trustInbound : false),
    };
    const headers: Record<string, string> = {
      'Content-Type': 'application/problem+json; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Request-Id': body.request_id,
    };
    if (error instanceof InvalidInputError) body.invalid_params = error.invalidParams;
    if (error instanceof RateLimitExceededError || error instanceof SecurityStoreUnavailableError) {
      body.retry_after = error.retryAfterSeconds;
      headers['Retry-After'] = String(error.retryAfterSeconds);
    }
    if (error instanceof DeprecatedClosedError || error instanceof GoneError) {
      if (error.successor) body.successor = error.successor;
      if (error instanceof GoneError && error.retryAfterSeconds !== undefined) {
        body.retry_after = error.retryAfterSeconds;
        headers['Retry-After'] = String(error.retryAfterSeconds);
      }
    }
    if (error instanceof MfaRequiredError) {
      // RFC 9470: the client should step up and retry; max_age says how recent the second factor must be.
      headers['WWW-Authenticate'] =
        `Bearer error="insufficient_user_authentication", ` +
        `error_description="A recent second factor is required", max_age=${error.maxAgeSec}`;
    } else if (problem.status === 401) headers['WWW-Authenticate'] = this.challenge;

    this.recordEvent(error, problem, request);
    const adapter = this.adapterHost.httpAdapter;
    for (const [name, value] of Object.entries(headers)) adapter.setHeader(response, name, value);
    adapter.reply(response, JSON.stringify(body), problem.status);
    return undefined;
  }

  private recordEvent(error: unknown, problem: ProblemType, request: HttpRequestLike): void {
    if (!(error instanceof SecurityError)) return;
    if (error instanceof RateLimitExceededError && error.recorded) return;
    // A resource hidden from the caller answers like a missing one, but it is a denial all the same.
    const type =
      error.code === 'ERR_SECURITY_RESOURCE_NOT_FOUND'
        ? error.context.hidden
          ? 'PERMISSION_DENIED'
          : undefined
        : EVENT_OF_CODE[error.code];
    if (!type) return;
    const principal = principalOf(request);
    void this.events.record({
      type,
      outcome: problem.status === 401 || problem.status === 403 || type === 'PERMISSION_DENIED' ? 'denied' : 'failure',
      principalId: principal?.id,
      keyId: principal?.keyId ?? (typeof error.context.keyId === 'string' ? error.context.keyId : undefined),
      status: problem.status,
      request: summarizeRequest(request),
      details: {
        code: error.code,
        ...(error instanceof InvalidCredentialsError ? { reason: error.reason } : {}),
        ...(error instanceof AuthenticationRequiredError ? { reason: 'missing' } : {}),
        ...(error instanceof MfaRequiredError ? { reason: 'step_up_required' } : {}),
        ...(error instanceof InvalidInputError ? { params: error.violations } : {}),
        ...error.context,
      },
    });
  }
}

/**
 * Turns the framework's parser errors, and the database's refusals of a value (SQLSTATE class 22, data
 * exception: NUL in text, an out-of-range number or date, a malformed uuid), into this library's errors;
 * leaves everything else as it is. A data exception comes from input, so it is a 400, never a 500.
 */
function normalize(exception: unknown): unknown {
  const sqlState = dataExceptionState(exception);
  if (sqlState) {
    return new InvalidInputError(
      [{ name: 'request', reason: 'holds a value that cannot be stored' }],
      'The request holds a value that cannot be stored',
      { sqlState },
      [{ name: 'request', rule: 'database_data_exception' }],
    );
  }
  if (!(exception instanceof HttpException)) return exception;
  const cause = exception.cause as { type?: string; code?: string } | undefined;
  if (!cause) return exception;
  // Express (body-parser) and Fastify (content-type parser) name their parse failures differently.
  if (
    cause.type === 'entity.parse.failed' ||
    cause.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
    cause.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
  ) {
    return new MalformedBodyError({}, { cause: exception });
  }
  if (cause.type === 'entity.too.large' || cause.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new PayloadTooLargeError();
  }
  return exception;
}

// TypeORM's QueryFailedError keeps the driver's error, whose `code` is the SQLSTATE.
function dataExceptionState(exception: unknown): string | undefined {
  if (!(exception instanceof Error) || exception.name !== 'QueryFailedError') return undefined;
  const code = (exception as { driverError?: { code?: unknown } }).driverError?.code;
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code) ? code : undefined;
}

// Administrative refusals carry their own message: it names the field or state, never a secret.
function operationProblem(error: SecurityOperationError): ProblemType {
  const base =
    error.kind === 'invalid'
      ? GENERIC_PROBLEM_TYPES[400]
      : error.kind === 'not_found'
        ? GENERIC_PROBLEM_TYPES[404]
        : { status: 409, slug: 'conflict', title: 'Conflict', detail: '' };
  return { ...base, detail: error.message };
}

function problemTypeOfHttp(error: unknown): ProblemType {
  if (!(error instanceof HttpException)) return GENERIC_PROBLEM_TYPES[500];
  const status = error.getStatus();
  const known = (GENERIC_PROBLEM_TYPES as Record<number, ProblemType>)[status];
  if (known) return known;
  if (status >= 500 || status < 400) return { ...GENERIC_PROBLEM_TYPES[500], status: status >= 500 ? status : 500 };
  const title = STATUS_CODES[status] ?? 'Error';
  return { status, slug: title.toLowerCase().replace(/[^a-z0-9]+/g, '-'), title, detail: title };
}

/**
 * Client-facing detail: the library's generic text, or the message of an `HttpException` the application
 * threw on purpose (4xx, a single string). Framework-mapped errors and 404s keep the generic text, so
 * raw input, paths and parser internals are never echoed.
 */
function detailFor(error: unknown, problem: ProblemType): string {
  if (error instanceof SecurityOperationError) return problem.detail;
  if (!(error instanceof HttpException) || problem.status >= 500 || problem.status === 404 || error.cause) {
    return problem.detail;
  }
  const response = error.getResponse();
  const message = typeof response === 'string' ? response : (response as { message?: unknown }).message;
  return typeof message === 'string' && message.length <= 200 ? message : problem.detail;
}
