import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AbstractHttpAdapter } from '@nestjs/core';
import type { HttpRequestLike } from '../http/http-request.js';

const INSTALLED = new WeakSet<object>();
/** Bodies of types Nest does not parse are kept up to this size (a larger one answers 413). */
export const RAW_BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * True when a parser before this one already read the body (Nest's JSON and urlencoded parsers, which keep
 * their bytes in `rawBody` when the app is created with `rawBody: true`, or any parser the app added). Decided
 * from the stream, not from the content type: Express's parsers take `application/json` only, not
 * `application/*+json` or `application/json-seq`, whose bodies must be kept here.
 */
function alreadyRead(request: IncomingMessage): boolean {
  return request.readableEnded || (request.complete && !request.readable);
}

type RawBodyRequest = HttpRequestLike & { rawBody?: Buffer; body?: unknown; readonly raw?: RawBodyRequest };

/**
 * The exact bytes of the request body, as signatures cover them: `rawBody` (kept by Nest's parsers with
 * `rawBody: true`, and by `installRawBodyCapture` for other types), an empty buffer when the request had
 * no body, or `undefined` when a body was received but its bytes were not kept (then a signature cannot
 * be checked, and the request is refused).
 */
export function rawBodyOf(request: RawBodyRequest): Buffer | undefined {
  const raw = request.rawBody ?? request.raw?.rawBody;
  if (Buffer.isBuffer(raw)) return raw;
  const headers = request.headers;
  const length = headers['content-length'];
  const hasBody = (length !== undefined && length !== '0') || headers['transfer-encoding'] !== undefined;
  return hasBody ? undefined : Buffer.alloc(0);
}

/**
 * Keeps the bytes of bodies whose content type Nest does not parse (any type other than JSON and
 * urlencoded), on Express and Fastify, as `request.rawBody` and as the parsed `body` (a Buffer), so a
 * signed request of any content type can be verified. JSON and urlencoded bodies stay parsed as usual;
 * their bytes come from Nest's `rawBody: true` application option, which signing needs.
 */
export function installRawBodyCapture(
  adapter: AbstractHttpAdapter,
  { limit = RAW_BODY_LIMIT_BYTES, typeBaseUri = 'urn:problem-type:' }: { limit?: number; typeBaseUri?: string } = {},
): void {
  const instance = adapter.getInstance();
  if (INSTALLED.has(instance)) return;
  INSTALLED.add(instance);
  if (adapter.getType() === 'fastify') {
    installOnFastify(instance, limit);
    return;
  }
  instance.use(
    (request: IncomingMessage & RawBodyRequest, response: ServerResponse, next: (error?: unknown) => void) => {
      if (request.rawBody !== undefined || alreadyRead(request) || rawBodyOf(request)?.length === 0) return next();
      const chunks: Buffer[] = [];
      let size = 0;
      let refused = false;
      request.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          if (!refused) tooLarge(response, typeBaseUri);
          refused = true;
          request.destroy();
          return;
        }
        chunks.push(chunk);
      });
      request.once('end', () => {
        if (refused) return;
        request.rawBody = Buffer.concat(chunks, size);
        request.body = request.rawBody;
        next();
      });
      request.once('error', (error) => {
        if (!refused) next(error);
      });
    },
  );
}

interface FastifyLike {
  hasContentTypeParser(type: string): boolean;
  removeContentTypeParser(type: string): void;
  addContentTypeParser(
    type: string,
    options: { parseAs: 'buffer'; bodyLimit: number },
    parser: (request: RawBodyRequest, body: Buffer, done: (error: Error | null, body?: unknown) => void) => void,
  ): void;
}

function installOnFastify(fastify: FastifyLike, limit: number): void {
  const keep = (request: RawBodyRequest, body: Buffer, done: (error: Error | null, body?: unknown) => void) => {
    (request as { rawBody?: Buffer }).rawBody = body;
    done(null, body);
  };
  // Fastify parses text/plain into a string itself; take it over so its bytes are kept too (as a string body).
  if (fastify.hasContentTypeParser('text/plain')) fastify.removeContentTypeParser('text/plain');
  fastify.addContentTypeParser('text/plain', { parseAs: 'buffer', bodyLimit: limit }, (request, body, done) => {
    (request as { rawBody?: Buffer }).rawBody = body;
    done(null, body.toString('utf8'));
  });
  fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: limit }, keep);
}

function tooLarge(response: ServerResponse, typeBaseUri: string): void {
  response.statusCode = 413;
  response.setHeader('Content-Type', 'application/problem+json; charset=utf-8');
  response.setHeader('Connection', 'close');
  response.end(
    JSON.stringify({
      type: `${typeBaseUri}payload-too-large`,
      title: 'Payload Too Large',
      status: 413,
      detail: 'The request body is larger than this endpoint accepts.',
    }),
  );
}
