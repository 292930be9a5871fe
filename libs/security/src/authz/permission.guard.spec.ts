/* oxlint-disable typescript/unbound-method -- handlers are passed by reference, as Nest hands them to the Reflector */
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthenticationRequiredError, PermissionDeniedError } from '../core/errors.js';
import { setPrincipal } from '../principals/current-principal.decorator.js';
import type { Principal } from '../principals/principal.js';
import { PermissionGuard } from './permission.guard.js';
import { RequirePermission } from './require-permission.decorator.js';

class Routes {
  @RequirePermission('users:delete') remove() {}
  @RequirePermission('documents:read', 'documents:write') both() {}
  @RequirePermission('documents:read', 'documents:write', { mode: 'any' }) either() {}
  open() {}
}

@RequirePermission('keys:admin')
class AdminRoutes {
  list() {}
}

function contextFor(handler: () => void, cls: object, permissions?: string[]): ExecutionContext {
  const request = {};
  if (permissions) {
    setPrincipal(request, {
      id: 'p1',
      kind: 'user',
      roles: [],
      permissions,
      attributes: {},
      authMethod: 'test',
    } satisfies Principal);
  }
  return {
    getType: () => 'http',
    getHandler: () => handler,
    getClass: () => cls,
    switchToHttp: () => ({ getRequest: () => request }),
  } as unknown as ExecutionContext;
}

describe('PermissionGuard with @RequirePermission', () => {
  const guard = new PermissionGuard(new Reflector());
  const routes = Routes.prototype;

  it('lets a route without a requirement through for any principal', () => {
    expect(guard.canActivate(contextFor(routes.open, Routes, []))).toBe(true);
  });

  it('requires every listed permission by default', () => {
    expect(guard.canActivate(contextFor(routes.both, Routes, ['documents:*']))).toBe(true);
    expect(() => guard.canActivate(contextFor(routes.both, Routes, ['documents:read']))).toThrow(PermissionDeniedError);
  });

  it('requires one of them with mode any', () => {
    expect(guard.canActivate(contextFor(routes.either, Routes, ['documents:write']))).toBe(true);
    expect(() => guard.canActivate(contextFor(routes.either, Routes, ['users:read']))).toThrow(PermissionDeniedError);
  });

  it('honours wildcards in what is granted and a requirement set on the controller', () => {
    expect(guard.canActivate(contextFor(routes.remove, Routes, ['*:*']))).toBe(true);
    expect(guard.canActivate(contextFor(AdminRoutes.prototype.list, AdminRoutes, ['keys:*']))).toBe(true);
    expect(() => guard.canActivate(contextFor(AdminRoutes.prototype.list, AdminRoutes, ['*:read']))).toThrow(
      PermissionDeniedError,
    );
  });

  it('denies a requirement when no principal was authenticated', () => {
    expect(() => guard.canActivate(contextFor(routes.remove, Routes))).toThrow(AuthenticationRequiredError);
  });

  it('refuses a requirement that is not a concrete permission at declaration time', () => {
    expect(() => RequirePermission('users:*')).toThrow(/concrete/);
    expect(() => RequirePermission()).toThrow(/at least one/);
  });
});
