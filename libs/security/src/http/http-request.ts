import type { IncomingHttpHeaders } from 'node:http';
import { acceptRequestId } from '../core/request-id.js';
import { UNKNOWN_CLIENT_IP, resolveClientIp, type TrustProxySetting } from '../rate-limit/core/client-ip.js';

const REQUEST_ID = Symbol.for('nest-api-security.requestId');
const CLIENT_IP = Symbol.for('nest-api-security.clientIp');

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
  [CLIENT_IP]?: string;
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

/**
 * Resolves the client's address once per request, as `trustProxy` says (`X-Forwarded-For` read only as far
 * as trusted proxies wrote it), and stores it on the request and on Fastify's raw request. The first hook
 * of every request calls it, so every later reader (`clientIpOf`) sees the same address: the rate limits,
 * the security events and the anomaly detector's counts, the IP block, a key's IP allow-list.
 */
export function assignClientIp(request: HttpRequestLike, trustProxy: TrustProxySetting): string {
  const existing = request[CLIENT_IP] ?? request.raw?.[CLIENT_IP];
  if (existing) return existing;
  const ip = resolveClientIp({
    remoteAddress: request.socket?.remoteAddress ?? request.raw?.socket?.remoteAddress,
    forwardedFor: request.headers['x-forwarded-for'],
    trustProxy,
  });
  request[CLIENT_IP] = ip;
  if (request.raw) request.raw[CLIENT_IP] = ip;
  return ip;
}

/**
 * The client's address as `assignClientIp` resolved it; before that (an error in an earlier layer) the
 * socket peer. Undefined when there is none (a Unix socket, a closed connection).
 */
export function clientIpOf(request: HttpRequestLike): string | undefined {
  const ip = request[CLIENT_IP] ?? request.raw?.[CLIENT_IP] ?? request.socket?.remoteAddress;
  return ip === UNKNOWN_CLIENT_IP ? undefined : ip;
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
    ip: clientIpOf(request),
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
