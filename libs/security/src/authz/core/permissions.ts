/**
 * Permissions are `<resource>:<action>`, each part `[a-z][a-z0-9_-]*` or `*` (any). Wildcards only ever
 * appear on the granted side: what a route requires is concrete, so `*:read` grants `users:read` and
 * never `audit:write`, and nothing satisfies a required `users:*`.
 */

/** The two parts of a permission. */
export interface PermissionParts {
  readonly resource: string;
  readonly action: string;
}

const WILDCARD = '*';
const PERMISSION_PATTERN = /^(\*|[a-z][a-z0-9_-]*):(\*|[a-z][a-z0-9_-]*)$/;

/**
 * Splits a permission into its parts, or returns `undefined` when it does not match the grammar.
 * @example parsePermission('users:*') // { resource: 'users', action: '*' }
 */
export function parsePermission(text: string): PermissionParts | undefined {
  if (typeof text !== 'string') return undefined;
  const match = PERMISSION_PATTERN.exec(text);
  return match ? { resource: match[1]!, action: match[2]! } : undefined;
}

/** Whether `text` is a permission, wildcards allowed. */
export function isValidPermission(text: string): boolean {
  return parsePermission(text) !== undefined;
}

/**
 * Whether the granted permission (wildcards allowed) covers the required one. False when either is
 * invalid or `required` contains a wildcard.
 * @example permissionImplies('*:read', 'users:read') // true
 */
export function permissionImplies(granted: string, required: string): boolean {
  const need = parseConcrete(required);
  const have = parsePermission(granted);
  return need !== undefined && have !== undefined && covers(have, need);
}

/** Whether any granted permission covers `required` (see {@link permissionImplies}). */
export function hasPermission(granted: readonly string[], required: string): boolean {
  const need = parseConcrete(required);
  if (!need) return false;
  return granted.some((permission) => {
    const have = parsePermission(permission);
    return have !== undefined && covers(have, need);
  });
}

/** Whether every required permission is granted; true for an empty list. */
export function hasAllPermissions(granted: readonly string[], required: readonly string[]): boolean {
  return required.every((permission) => hasPermission(granted, permission));
}

/** Whether at least one required permission is granted; false for an empty list. */
export function hasAnyPermission(granted: readonly string[], required: readonly string[]): boolean {
  return required.some((permission) => hasPermission(granted, permission));
}

/**
 * The permissions both sets grant, as few and as general as possible: the part-by-part meet of every
 * pair (`*` meets `x` in `x`, different concrete parts do not meet), without duplicates or entries another
 * entry covers, sorted. Invalid entries are ignored. For every concrete `p`,
 * `hasPermission(intersectPermissions(a, b), p)` equals `hasPermission(a, p) && hasPermission(b, p)`.
 * @example intersectPermissions(['documents:*'], ['*:read']) // ['documents:read']
 */
export function intersectPermissions(a: readonly string[], b: readonly string[]): string[] {
  const left = validParts(a);
  const right = validParts(b);
  const meets = new Map<string, PermissionParts>();
  for (const x of left) {
    for (const y of right) {
      const resource = meetPart(x.resource, y.resource);
      const action = meetPart(x.action, y.action);
      if (resource !== undefined && action !== undefined) meets.set(`${resource}:${action}`, { resource, action });
    }
  }
  const entries = [...meets];
  return entries
    .filter(([text, parts]) => !entries.some(([other, otherParts]) => other !== text && covers(otherParts, parts)))
    .map(([text]) => text)
    .sort();
}

/**
 * What an API key may do: all of its principal's permissions when it has no scopes (`null`), otherwise
 * the intersection with its scopes (so `[]` grants nothing). Normalised like {@link intersectPermissions}.
 * @example effectiveKeyPermissions(['users:*'], ['users:read', 'audit:read']) // ['users:read']
 */
export function effectiveKeyPermissions(
  principalPermissions: readonly string[],
  keyScopes: readonly string[] | null,
): string[] {
  return intersectPermissions(principalPermissions, keyScopes ?? [`${WILDCARD}:${WILDCARD}`]);
}

function parseConcrete(text: string): PermissionParts | undefined {
  const parts = parsePermission(text);
  return parts && parts.resource !== WILDCARD && parts.action !== WILDCARD ? parts : undefined;
}

/** Whether `have` covers `need` part by part; `need` may itself hold wildcards. */
function covers(have: PermissionParts, need: PermissionParts): boolean {
  return (
    (have.resource === WILDCARD || have.resource === need.resource) &&
    (have.action === WILDCARD || have.action === need.action)
  );
}

function meetPart(x: string, y: string): string | undefined {
  if (x === WILDCARD) return y;
  if (y === WILDCARD || x === y) return x;
  return undefined;
}

function validParts(permissions: readonly string[]): PermissionParts[] {
  return permissions
    .map((text) => parsePermission(text))
    .filter((parts): parts is PermissionParts => parts !== undefined);
}
