import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthenticationRequiredError, PermissionDeniedError } from '../core/errors.js';
import { principalOf } from '../principals/current-principal.decorator.js';
import { hasAllPermissions, hasAnyPermission } from './core/permissions.js';
import { REQUIRED_PERMISSIONS, type PermissionRequirement } from './require-permission.decorator.js';
import { routeMetadata } from '../http/route-metadata.js';

/**
 * Checks `@RequirePermission()` against the principal's effective permissions (roles, narrowed by key or
 * token scopes). Runs after authentication; a route without the decorator needs only a principal.
 */
@Injectable()
export class PermissionGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const requirement = routeMetadata<PermissionRequirement>(this.reflector, REQUIRED_PERMISSIONS, context);
    if (!requirement) return true;
    const principal = principalOf(context.switchToHttp().getRequest());
    // A @Public() route with a permission requirement is a contradiction; deny rather than guess.
    if (!principal) throw new AuthenticationRequiredError();
    const allowed =
      requirement.mode === 'all'
        ? hasAllPermissions(principal.permissions, requirement.permissions)
        : hasAnyPermission(principal.permissions, requirement.permissions);
    if (!allowed) {
      throw new PermissionDeniedError({
        principalId: principal.id,
        required: requirement.permissions,
        mode: requirement.mode,
        roles: principal.roles,
      });
    }
    return true;
  }
}
