import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { SECURITY_HEADERS_OVERRIDE } from './security-headers.decorator.js';
import { writeHeaders } from './security-headers.hook.js';
import { buildHeaderOverrides, type SecurityHeader, type SecurityHeadersOverride } from './security-headers.js';

type Handler = (...args: unknown[]) => unknown;

/**
 * Applies a route's `@SecurityHeaders()` overrides over the preset the hook wrote, first among the guards
 * so that the route's refusals carry them too. Each route's list is built once, on its first request.
 * HTTP only: other contexts (GraphQL resolvers, gateways, microservices) have no response headers of
 * their own here and are let through untouched.
 */
@Injectable()
export class SecurityHeadersGuard implements CanActivate {
  // By controller, then handler: an inherited handler may serve controllers with different overrides.
  private readonly lists = new WeakMap<object, WeakMap<Handler, readonly SecurityHeader[]>>();

  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const headers = this.headersOf(context.getHandler() as Handler, context.getClass());
    if (headers.length > 0) writeHeaders(context.switchToHttp().getResponse(), headers);
    return true;
  }

  private headersOf(handler: Handler, controller: object): readonly SecurityHeader[] {
    let byHandler = this.lists.get(controller);
    if (!byHandler) this.lists.set(controller, (byHandler = new WeakMap()));
    let headers = byHandler.get(handler);
    if (headers === undefined) {
      const get = (target: object) =>
        this.reflector.get<SecurityHeadersOverride | undefined>(SECURITY_HEADERS_OVERRIDE, target as Handler);
      headers = buildHeaderOverrides({ ...get(controller), ...get(handler) });
      byHandler.set(handler, headers);
    }
    return headers;
  }
}
