import type { IncomingMessage, ServerResponse } from 'node:http';
import { Logger } from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
import { parse as parseContentType, type ContentType } from 'content-type';
import getRawBody from 'raw-body';
import {
  InvalidInputError,
  MalformedBodyError,
  PayloadTooLargeError,
  SecurityError,
  UnsupportedMediaTypeError,
} from '../core/errors.js';
import type { ResolvedInputLimits } from '../options/security-options.js';
import {
  checkQueryString,
  checkValueShape,
  parseJsonWithin,
  type JsonShapeLimits,
  type ShapeViolation,
} from './core/json-shape.js';

const INSTALLED = new WeakSet<object>();
// application/json and the structured-syntax suffix types (application/problem+json, application/merge-patch+json…).
const JSON_MEDIA_TYPE = /^application\/(?:[a-z0-9!#$&^_.-]+\+)?json$/;
// The parsers Nest registers unless the app is created with `{ bodyParser: false }` (Express names them so).
const NEST_EXPRESS_PARSERS = new Set(['jsonParser', 'urlencodedParser', 'textParser', 'rawParser']);

/** What the body and query checks need, resolved once at boot. */
export interface BodyParsingSettings {
  /** The largest body any route takes (the `limits.body` default or a larger `@BodyLimit()`). */
  readonly capBytes: number;
  readonly limits: ResolvedInputLimits;
}

type ParsedRequest = { rawBody?: Buffer; body?: unknown; headers: IncomingMessage['headers'] };

/**
 * Makes this library the one body parser on Express and on Fastify, so that every body is read under the
 * same limits: a body over `capBytes` is refused while it is read (413; at once when Content-Length says
 * so), a JSON body is scanned for depth, array length, key count and forbidden keys before `JSON.parse`
 * builds anything (400), and a compressed body is refused (415). The exact bytes are kept as `rawBody`
 * (signatures cover them). JSON becomes `body`; `text/plain` a string; any other type stays a Buffer, which
 * a DTO-typed `@Body()` refuses with 415 (so HTML forms cannot post to a JSON API). Query strings are
 * checked first: too many parameters, or a `__proto__`/`constructor`/`prototype` name, answer 400.
 */
export function installBodyParsing(adapter: AbstractHttpAdapter, settings: BodyParsingSettings): void {
  const instance = adapter.getInstance();
  if (INSTALLED.has(instance)) return;
  INSTALLED.add(instance);
  if (adapter.getType() === 'fastify') installOnFastify(instance, settings);
  else installOnExpress(instance, settings);
}

function shapeLimits(limits: ResolvedInputLimits): JsonShapeLimits {
  return { maxDepth: limits.jsonDepth, maxArrayLength: limits.jsonArrayLength, maxKeys: limits.jsonKeys };
}

/** Throws `InvalidInputError` for a query string over the limits. */
export function checkRequestQuery(url: string | undefined, limits: ResolvedInputLimits): void {
  const index = url?.indexOf('?') ?? -1;
  if (index < 0) return;
  const violation = checkQueryString(url!.slice(index + 1), { maxParams: limits.queryParams });
  if (violation) throw shapeError(violation, 'The query string is not accepted');
}

/** The body a route sees, from the bytes received; throws the 400 or 415 error for refused input. */
export function decodeBody(bytes: Buffer, headers: IncomingMessage['headers'], limits: JsonShapeLimits): unknown {
  if (bytes.length === 0) return undefined;
  const encoding = headers['content-encoding']?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') throw new UnsupportedMediaTypeError({ encoding: encoding.slice(0, 32) });
  const type = mediaType(headers['content-type']);
  if (type && JSON_MEDIA_TYPE.test(type.type)) {
    const charset = type.parameters.charset?.toLowerCase();
    if (charset && charset !== 'utf-8' && charset !== 'utf8') {
      throw new UnsupportedMediaTypeError({ charset: charset.slice(0, 32) });
    }
    const parsed = parseJsonWithin(bytes.toString('utf8'), limits);
    if ('violation' in parsed) {
      if (parsed.violation.rule === 'syntax') throw new MalformedBodyError({ reason: parsed.violation.reason });
      throw shapeError(parsed.violation, 'The request body is not accepted');
    }
    return parsed.value;
  }
  if (type?.type === 'text/plain') return bytes.toString('utf8');
  return bytes;
}

function mediaType(header: string | undefined): ContentType | undefined {
  return header ? parseContentType(header) : undefined;
}

function shapeError(violation: ShapeViolation, detail: string): InvalidInputError {
  return new InvalidInputError([{ name: violation.path, reason: violation.reason }], detail, {}, [
    { name: violation.path, rule: violation.rule },
  ]);
}

function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined;
}

// A parser before this one already read the stream (one the application added itself).
function alreadyRead(request: IncomingMessage): boolean {
  return request.readableEnded || (request.complete && !request.readable);
}

interface ExpressLike {
  use(handler: (request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void) => void): void;
  readonly router?: { stack?: Array<{ handle?: { name?: string } }> };
}

function installOnExpress(express: ExpressLike, settings: BodyParsingSettings): void {
  const stack = express.router?.stack;
  if (stack?.some((layer) => NEST_EXPRESS_PARSERS.has(layer.handle?.name ?? ''))) {
    // Nest's parsers would read bodies first, without the depth and key checks and with their own limit.
    for (let index = stack.length - 1; index >= 0; index--) {
      if (NEST_EXPRESS_PARSERS.has(stack[index]!.handle?.name ?? '')) stack.splice(index, 1);
    }
    new Logger('Security').warn(
      'replaced the body parsers Nest registered: create the app with { bodyParser: false } and set limits in ' +
        'SecurityModule.forRoot({ limits }) and @BodyLimit()',
    );
  }
  const shape = shapeLimits(settings.limits);
  express.use(function securityBodyParser(request, response, next) {
    const parsed = request as IncomingMessage & ParsedRequest;
    try {
      checkRequestQuery(request.url, settings.limits);
      if (!hasBody(request)) return next();
      if (alreadyRead(request)) {
        const violation = typeof parsed.body === 'object' ? checkValueShape(parsed.body, shape, 'body') : undefined;
        return next(violation ? shapeError(violation, 'The request body is not accepted') : undefined);
      }
    } catch (error) {
      return next(error);
    }
    getRawBody(request, { length: request.headers['content-length'], limit: settings.capBytes }).then(
      (bytes) => {
        parsed.rawBody = bytes;
        try {
          parsed.body = decodeBody(bytes, request.headers, shape);
        } catch (error) {
          return next(error);
        }
        next();
      },
      (error: { type?: string }) => {
        if (error.type === 'entity.too.large') {
          // The rest of the body is never read: the connection cannot be reused.
          response.setHeader('Connection', 'close');
          return next(new PayloadTooLargeError());
        }
        if (error.type === 'request.size.invalid') {
          return next(new MalformedBodyError({ reason: 'body shorter or longer than Content-Length' }));
        }
        next(error);
      },
    );
  });
}

interface FastifyLike {
  removeAllContentTypeParsers(): void;
  addContentTypeParser(
    type: string,
    options: { parseAs: 'buffer'; bodyLimit: number },
    parser: (request: ParsedRequest, body: Buffer, done: (error: Error | null, body?: unknown) => void) => void,
  ): void;
  addHook(
    name: 'onRequest',
    hook: (request: { raw: IncomingMessage }, reply: unknown, done: (error?: Error) => void) => void,
  ): void;
}

function installOnFastify(fastify: FastifyLike, settings: BodyParsingSettings): void {
  const shape = shapeLimits(settings.limits);
  fastify.addHook('onRequest', (request, _reply, done) => {
    try {
      checkRequestQuery(request.raw.url, settings.limits);
    } catch (error) {
      return done(error as SecurityError);
    }
    done();
  });
  // Fastify's own JSON and text parsers, and any Nest added, give way to the one below.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: settings.capBytes }, (request, bytes, done) => {
    request.rawBody = bytes;
    let body: unknown;
    try {
      body = decodeBody(bytes, request.headers, shape);
    } catch (error) {
      return done(error as Error);
    }
    done(null, body);
  });
}
