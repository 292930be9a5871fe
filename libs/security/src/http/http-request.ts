import type { IncomingHttpHeaders } from 'node:http';
import { acceptRequestId } from '../core/request-id.js';

const REQUEST_ID = Symbol.for('nest-api-security.requestId');

/**
 * The parts of an Express request, a Fastify request or a raw `IncomingMessage` this library reads.
 * Both adapters' request objects have these fields.
 */
export interface HttpRequestLike {
  readonly method?: string;
  readonly url?: string;
  readonly originalUrl?: string;
  readonly ip?: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders?: readonly string[];
  readonly socket?: { readonly remoteAddress?: string };
  readonly raw?: HttpRequestLike;
  [REQUEST_ID]?: string;
}

/** What the security log and the audit trail record of a request. */
export interface RequestSummary {
  readonly requestId: string;
  readonly method?: string;
  readonly path?: string;
  readonly ip?: string;
  readonly userAgent?: string;
}

/**
 * Returns the request's id, assigning one on first use: kept from a well-formed `X-Request-Id`
 * when `trustInbound`, otherwise a new UUID. Stored on the request and on Fastify's raw request.
 */
export function requestIdOf(request: HttpRequestLike, trustInbound = true): string {
  const existing = request[REQUEST_ID] ?? request.raw?.[REQUEST_ID];
  if (existing) return existing;
  const id = acceptRequestId(trustInbound ? request.headers['x-request-id'] : undefined);
  request[REQUEST_ID] = id;
  if (request.raw) request.raw[REQUEST_ID] = id;
  return id;
}

/** The path the client sent, without the query string. */
export function requestPath(request: HttpRequestLike): string | undefined {
  const url = request.originalUrl ?? request.url;
  if (url === undefined) return undefined;
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

// The audit column's size; a longer path must not cost the event its row.
const MAX_PATH = 2048;

/** Summarises a request for events. */
export function summarizeRequest(request: HttpRequestLike): RequestSummary {
  const userAgent = request.headers['user-agent'];
  return {
    requestId: requestIdOf(request),
    method: request.method,
    path: requestPath(request)?.slice(0, MAX_PATH),
    ip: request.ip ?? request.socket?.remoteAddress,
    userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : undefined,
  };
}

/** How many times a header was sent (Node joins repeats of some headers into one value, and drops others). */
export function headerCount(request: HttpRequestLike, name: string): number {
  const raw = request.rawHeaders ?? request.raw?.rawHeaders;
  if (!raw) return request.headers[name] === undefined ? 0 : 1;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) count++;
  return count;
}
