import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Principal } from './principal.js';

const PRINCIPAL = Symbol.for('nest-api-security.principal');

/** Attaches the authenticated principal to the request (and Fastify's raw request). */
export function setPrincipal(request: object & { raw?: object }, principal: Principal): void {
  (request as Record<symbol, unknown>)[PRINCIPAL] = principal;
  if (request.raw) (request.raw as Record<symbol, unknown>)[PRINCIPAL] = principal;
}

/** The principal authenticated for this request, or `undefined` on a public route. */
export function principalOf(request: object & { raw?: object }): Principal | undefined {
  return ((request as Record<symbol, unknown>)[PRINCIPAL] ??
    (request.raw as Record<symbol, unknown> | undefined)?.[PRINCIPAL]) as Principal | undefined;
}

/**
 * Injects the authenticated principal into a handler parameter.
 * @example @Get('me') me(@CurrentPrincipal() principal: Principal) {}
 */
export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext) =>
  principalOf(context.switchToHttp().getRequest()),
);
