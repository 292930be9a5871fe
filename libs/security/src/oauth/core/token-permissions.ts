import { intersectPermissions, parsePermission } from '../../authz/core/permissions.js';

/**
 * The scopes of an access token: `scope`, a space-separated string (RFC 9068, RFC 8693); when it is
 * absent, `scp` as a list or a string (the form some authorization servers use). Empty and repeated
 * entries are dropped; anything else yields no scopes.
 * @example scopesOf({ scope: 'items:read docs' }) // ['items:read', 'docs']
 */
export function scopesOf(claims: Readonly<Record<string, unknown>>): string[] {
  const raw = claims.scope !== undefined ? claims.scope : claims.scp;
  const list =
    typeof raw === 'string'
      ? raw.split(' ')
      : Array.isArray(raw) && raw.every((entry) => typeof entry === 'string')
        ? (raw as string[])
        : [];
  return [...new Set(list.filter((scope) => scope !== ''))];
}

/**
 * What the scopes grant before the user's roles are considered: each scope's entry in `scopeMap`; a scope
 * not in the map that is a concrete permission name (no `*`) grants itself; any other grants nothing.
 * Wildcards come only from the map, so a scope string can never widen itself to `*:*`.
 * @example permissionsOfScopes(['docs', 'items:read', 'openid'], { docs: ['documents:read'] }) // ['documents:read', 'items:read']
 */
export function permissionsOfScopes(
  scopes: readonly string[],
  scopeMap: Readonly<Record<string, readonly string[]>>,
): string[] {
  const granted = new Set<string>();
  for (const scope of scopes) {
    const mapped = Object.hasOwn(scopeMap, scope) ? scopeMap[scope] : undefined;
    if (mapped) {
      for (const permission of mapped) granted.add(permission);
    } else if (isConcretePermission(scope)) {
      granted.add(scope);
    }
  }
  return [...granted].sort();
}

/**
 * The effective permissions of a token: what its scopes grant, intersected with what the user's roles
 * grant (a token can only narrow its user, never widen it).
 * @example tokenPermissions(['documents:write'], {}, ['documents:read']) // []
 */
export function tokenPermissions(
  scopes: readonly string[],
  scopeMap: Readonly<Record<string, readonly string[]>>,
  rolePermissions: readonly string[],
): string[] {
  return intersectPermissions(permissionsOfScopes(scopes, scopeMap), rolePermissions);
}

function isConcretePermission(text: string): boolean {
  const parts = parsePermission(text);
  return parts !== undefined && parts.resource !== '*' && parts.action !== '*';
}
