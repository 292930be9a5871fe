import type { AbstractHttpAdapter } from '@nestjs/core';
import type { TrustProxySetting } from '../rate-limit/core/client-ip.js';
import { assignClientIp, requestIdOf, type HttpRequestLike } from './http-request.js';

const INSTALLED = new WeakSet<object>();

/**
 * Assigns the request id and writes `X-Request-Id` as the first thing on every request, including
 * unknown routes, on Express and Fastify, and resolves the client's address (`trustProxy`) once for every
 * later reader. Errors raised before it runs (body parser) get their id from the exception filter, which
 * assigns one the same way.
 */
export function installRequestIdHook(
  adapter: AbstractHttpAdapter,
  trustInbound: boolean,
  trustProxy: TrustProxySetting = false,
): void {
  const instance = adapter.getInstance();
  if (INSTALLED.has(instance)) return;
  INSTALLED.add(instance);
  if (adapter.getType() === 'fastify') {
    instance.addHook(
      'onRequest',
      (request: HttpRequestLike, reply: { header(n: string, v: string): void }, done: () => void) => {
        reply.header('X-Request-Id', requestIdOf(request, trustInbound));
        assignClientIp(request, trustProxy);
        done();
      },
    );
    return;
  }
  instance.use(function securityRequestId(
    request: HttpRequestLike,
    response: { setHeader(n: string, v: string): void },
    next: () => void,
  ) {
    response.setHeader('X-Request-Id', requestIdOf(request, trustInbound));
    assignClientIp(request, trustProxy);
    next();
  });
}
