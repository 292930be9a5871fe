import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import {
  PermissionDeniedError,
  ResourceNotFoundError,
  SecurityError,
  SecurityStoreUnavailableError,
} from '../core/errors.js';
import { summarizeRequest, type HttpRequestLike } from '../http/http-request.js';
import { principalOf } from '../principals/current-principal.decorator.js';
import { AUTHORIZE, setAuthorizedResource, type AuthorizeMetadata } from './authorize.decorator.js';
import { Grants } from './grants.service.js';
import type { ResourcePolicy } from './resource-policy.js';

/**
 * Applies `@Authorize(Policy, action)`: loads the resource once, asks the policy, answers 404 for a
 * resource the caller may not see (like a missing one) and 403 for a visible one it may not act on.
 * Runs after `@RequirePermission()`: both must allow.
 */
@Injectable()
export class PolicyGuard implements CanActivate {
  private readonly policies = new Map<AuthorizeMetadata['policy'], ResourcePolicy>();

  constructor(
    private readonly reflector: Reflector,
    private readonly moduleRef: ModuleRef,
    private readonly grants: Grants,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const meta = this.reflector.get<AuthorizeMetadata | undefined>(AUTHORIZE, context.getHandler());
    if (!meta) return true;
    const request = context.switchToHttp().getRequest<HttpRequestLike & { params?: Record<string, string> }>();
    const principal = principalOf(request);
    if (!principal) throw new PermissionDeniedError({ reason: 'no principal' });
    const policy = this.policyOf(meta);
    const id = request.params?.[meta.param];
    const target = { type: policy.resourceType, id: typeof id === 'string' ? id.slice(0, 128) : null };
    if (typeof id !== 'string') throw new ResourceNotFoundError({ resource: target });
    const resource = await this.unavailableOnFailure(() => policy.load(id));
    if (resource === null || resource === undefined) throw new ResourceNotFoundError({ resource: target });
    const grantedActions = await this.unavailableOnFailure(() =>
      this.grants.actionsOn(principal.id, policy.resourceType, policy.idOf(resource)),
    );
    const policyContext = { grantedActions, request: summarizeRequest(request) };
    if (!policy.can(principal, meta.action, resource, policyContext)) {
      const denial = {
        principalId: principal.id,
        roles: principal.roles,
        required: `${policy.resourceType}:${meta.action}`,
        resource: target,
      };
      if (!policy.canSee(principal, resource, policyContext))
        throw new ResourceNotFoundError({ ...denial, hidden: true });
      throw new PermissionDeniedError(denial);
    }
    setAuthorizedResource(request, resource);
    return true;
  }

  private policyOf(meta: AuthorizeMetadata): ResourcePolicy {
    const known = this.policies.get(meta.policy);
    if (known) return known;
    const policy = this.moduleRef.get<ResourcePolicy>(meta.policy, { strict: false });
    this.policies.set(meta.policy, policy);
    return policy;
  }

  // A store that cannot answer denies with a 503; it never lets the request through or answers 500.
  private async unavailableOnFailure<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof SecurityError) throw error;
      throw new SecurityStoreUnavailableError('authorization', 2, { cause: error });
    }
  }
}
