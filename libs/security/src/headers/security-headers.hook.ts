import type { AbstractHttpAdapter } from '@nestjs/core';
import { requestPath, type HttpRequestLike } from '../http/http-request.js';
import type { TrustProxyOption } from '../options/security-options.js';
import {
  isSecureRequest,
  securityHeadersFor,
  type SecurityHeader,
  type SecurityHeaderPlan,
} from './security-headers.js';

const INSTALLED = new WeakSet<object>();

interface FastifyReplyLike {
  header(name: string, value: string): unknown;
  removeHeader(name: string): unknown;
}

interface NodeResponseLike {
  setHeader(name: string, value: string): unknown;
  removeHeader(name: string): unknown;
}

/**
 * Writes the precomputed headers as the first thing on every response: a Fastify `onRequest` hook, or the
 * first layer of the Express app, ahead even of what was added to it before Nest's `init()` (Express's
 * `X-Powered-By` is switched off). Per request only the list is chosen (relaxed paths) and, with HSTS on,
 * the scheme checked. Errors, 404s and parser refusals (413) carry the headers: they are set before those.
 */
export function installSecurityHeaders(
  adapter: AbstractHttpAdapter,
  plan: SecurityHeaderPlan,
  trustProxy: TrustProxyOption,
): void {
  const instance = adapter.getInstance();
  if (INSTALLED.has(instance)) return;
  INSTALLED.add(instance);
  const { hsts } = plan;
  if (adapter.getType() === 'fastify') {
    // On the reply (not its raw response), where the route's `@Header()` and the error handler write too.
    instance.addHook('onRequest', (request: HttpRequestLike, reply: FastifyReplyLike, done: () => void) => {
      writeHeaders(reply, securityHeadersFor(plan, requestPath(request) ?? '/'));
      if (hsts && isSecureRequest(request, trustProxy)) reply.header(hsts.name, hsts.value!);
      done();
    });
    return;
  }
  instance.disable('x-powered-by');
  const securityHeaders = (request: HttpRequestLike, response: NodeResponseLike, next: () => void) => {
    writeHeaders(response, securityHeadersFor(plan, requestPath(request) ?? '/'));
    if (hsts && isSecureRequest(request, trustProxy)) response.setHeader(hsts.name, hsts.value!);
    next();
  };
  // Named: the module moves it to the front of the Express stack (see moveLayersToFront).
  instance.use(securityHeaders);
}

/** Writes headers (`null`: removes) on an Express/Node response or a Fastify reply. */
export function writeHeaders(response: NodeResponseLike | FastifyReplyLike, headers: readonly SecurityHeader[]): void {
  const fastify = 'raw' in response;
  for (const { name, value } of headers) {
    if (value === null) response.removeHeader(name);
    else if (fastify) (response as FastifyReplyLike).header(name, value);
    else (response as NodeResponseLike).setHeader(name, value);
  }
}
