import type { AbstractHttpAdapter } from '@nestjs/core';
import type { HttpRequestLike } from '../http/http-request.js';
import type { ResolvedCorsOptions } from '../options/security-options.js';
import {
  compileCorsPolicy,
  decideCors,
  grantsAnyOrigin,
  mergeVary,
  type CorsDecision,
  type CorsPolicy,
} from './cors.js';

const INSTALLED = new WeakSet<object>();

interface FastifyReplyLike {
  header(name: string, value: string): unknown;
  getHeader(name: string): unknown;
  code(status: number): FastifyReplyLike;
  send(): unknown;
}

interface ServerResponseLike {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  getHeader(name: string): unknown;
  end(): unknown;
}

/**
 * Answers CORS preflights with `204` and adds the CORS headers of other requests as soon as a request
 * arrives, on Express and Fastify: before body parsing, routing and every guard, so a preflight never
 * needs credentials and error answers (401, 404, 429…) stay readable by an allowed origin. Installed
 * after the security headers hook, so preflight answers carry those too. With an empty allow-list (no
 * origins, no patterns) nothing is installed: no origin could be granted, so answers stay as they are.
 */
export function installCors(adapter: AbstractHttpAdapter, options: ResolvedCorsOptions): void {
  const policy = compileCorsPolicy(options);
  if (!grantsAnyOrigin(policy)) return;
  const instance = adapter.getInstance();
  if (INSTALLED.has(instance)) return;
  INSTALLED.add(instance);
  if (adapter.getType() === 'fastify') {
    instance.addHook('onRequest', (request: HttpRequestLike, reply: FastifyReplyLike, done: () => void) => {
      const decision = decide(policy, request);
      write(
        decision,
        (name) => reply.getHeader(name),
        (name, value) => reply.header(name, value),
      );
      // Replying from an onRequest hook ends the request here: no further hook, no guard, no handler.
      if (decision.preflight) reply.code(204).send();
      else done();
    });
    return;
  }
  instance.use(function securityCors(request: HttpRequestLike, response: ServerResponseLike, next: () => void) {
    const decision = decide(policy, request);
    write(
      decision,
      (name) => response.getHeader(name),
      (name, value) => response.setHeader(name, value),
    );
    if (decision.preflight) {
      response.statusCode = 204;
      response.end();
    } else next();
  });
}

function decide(policy: CorsPolicy, request: HttpRequestLike): CorsDecision {
  const headers = request.headers;
  return decideCors(policy, {
    method: request.method,
    origin: headers.origin,
    requestMethod: headers['access-control-request-method'],
    requestHeaders: headers['access-control-request-headers'],
  });
}

function write(
  decision: CorsDecision,
  get: (name: string) => unknown,
  set: (name: string, value: string) => unknown,
): void {
  for (const [name, value] of decision.headers) set(name, name === 'Vary' ? mergeVary(get(name), value) : value);
}
