import { SetMetadata, createParamDecorator, type ExecutionContext, type Type } from '@nestjs/common';
import type { ResourcePolicy } from './resource-policy.js';

export const AUTHORIZE = 'nest-api-security:authorize';
const RESOURCE = Symbol.for('nest-api-security.authorizedResource');

/** What `@Authorize()` records on a route. */
export interface AuthorizeMetadata {
  readonly policy: Type<ResourcePolicy>;
  readonly action: string;
  /** Route parameter holding the resource id (default `id`). */
  readonly param: string;
}

/**
 * Loads the route's resource with `policy` and allows the request only if the policy allows `action`,
 * on top of any `@RequirePermission()`. The loaded resource is handed to the handler by
 * `@AuthorizedResource()`, so it is read once.
 * @example @Put(':id') @RequirePermission('documents:write') @Authorize(DocumentPolicy, 'write')
 *          update(@AuthorizedResource() document: Document) {}
 */
export function Authorize(
  policy: Type<ResourcePolicy>,
  action: string,
  options: { param?: string } = {},
): MethodDecorator {
  if (!/^[a-z][a-z0-9_-]{0,63}$/.test(action)) throw new Error(`@Authorize(): "${action}" is not an action name`);
  return SetMetadata(AUTHORIZE, { policy, action, param: options.param ?? 'id' } satisfies AuthorizeMetadata);
}

/** Stores the authorized resource on the request (and Fastify's raw request). */
export function setAuthorizedResource(request: object & { raw?: object }, resource: unknown): void {
  (request as Record<symbol, unknown>)[RESOURCE] = resource;
  if (request.raw) (request.raw as Record<symbol, unknown>)[RESOURCE] = resource;
}

/** The resource `@Authorize()` loaded for this request, if any. */
export function authorizedResourceOf(request: object & { raw?: object }): unknown {
  return (
    (request as Record<symbol, unknown>)[RESOURCE] ?? (request.raw as Record<symbol, unknown> | undefined)?.[RESOURCE]
  );
}

/** The resource `@Authorize()` loaded and allowed for this request. */
export const AuthorizedResource = createParamDecorator((_: unknown, context: ExecutionContext) =>
  authorizedResourceOf(context.switchToHttp().getRequest<object & { raw?: object }>()),
);
