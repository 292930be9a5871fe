import type { ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';

// Per controller, then handler (an inherited handler can serve controllers with different metadata),
// then metadata key.
const resolved = new WeakMap<object, WeakMap<object, Map<string, unknown>>>();

/**
 * `reflector.getAllAndOverride(key, [handler, controller])` for the route of `context`, read once per
 * route and then served from memory: decorators have run by the time a request arrives, and the guards
 * ask on every request. Metadata added to a route after its first request is not seen.
 * @example const isPublic = routeMetadata<boolean>(this.reflector, IS_PUBLIC, context);
 */
export function routeMetadata<T>(reflector: Reflector, key: string, context: ExecutionContext): T | undefined {
  const controller = context.getClass();
  const handler = context.getHandler();
  if (!isObject(controller) || !isObject(handler))
    return reflector.getAllAndOverride<T | undefined>(key, [handler, controller]);
  let byHandler = resolved.get(controller);
  if (!byHandler) resolved.set(controller, (byHandler = new WeakMap()));
  let byKey = byHandler.get(handler);
  if (!byKey) byHandler.set(handler, (byKey = new Map()));
  if (byKey.has(key)) return byKey.get(key) as T | undefined;
  const value = reflector.getAllAndOverride<T | undefined>(key, [handler, controller]);
  byKey.set(key, value);
  return value;
}

function isObject(value: unknown): value is object {
  return (typeof value === 'function' || typeof value === 'object') && value !== null;
}
