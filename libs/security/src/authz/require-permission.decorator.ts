import { SetMetadata } from '@nestjs/common';

export const REQUIRED_PERMISSIONS = 'nest-api-security:required-permissions';

/** What a route demands: every listed permission (`all`) or at least one (`any`). */
export interface PermissionRequirement {
  readonly mode: 'all' | 'any';
  readonly permissions: readonly string[];
}

/**
 * Requires permissions (`resource:action`) of the authenticated principal: all of them by default,
 * or any one with `{ mode: 'any' }` as the last argument. Checked on every request; 403 otherwise.
 * @example @Delete(':id') @RequirePermission('users:delete') remove() {}
 * @example @Get() @RequirePermission('documents:read', 'documents:write', { mode: 'any' }) list() {}
 */
export function RequirePermission(
  ...args: [...permissions: string[]] | [...permissions: string[], options: { mode: 'all' | 'any' }]
): MethodDecorator & ClassDecorator {
  const items: ReadonlyArray<string | { mode: 'all' | 'any' }> = args;
  const last = items[items.length - 1];
  const mode = typeof last === 'object' ? last.mode : 'all';
  const permissions = items.filter((arg): arg is string => typeof arg === 'string');
  if (permissions.length === 0) throw new Error('@RequirePermission() needs at least one permission');
  for (const permission of permissions) {
    if (!/^[a-z][a-z0-9_-]*:[a-z][a-z0-9_-]*$/.test(permission)) {
      throw new Error(`@RequirePermission('${permission}'): use a concrete "resource:action" permission`);
    }
  }
  return SetMetadata(REQUIRED_PERMISSIONS, { mode, permissions } satisfies PermissionRequirement);
}
