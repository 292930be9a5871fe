import { SecurityError } from '../core/errors.js';

/**
 * A stored grant: `principalId` may do `action` on the resource `resourceType`/`resourceId`. The action
 * `*` stands for every action on that resource.
 */
export interface ResourceGrant {
  principalId: string;
  resourceType: string;
  resourceId: string;
  action: string;
  grantedAt: Date;
  /** Who granted it (`cli:<os user>`, a principal id, ...). */
  grantedBy: string | null;
}

/** What `GrantStore.add` takes; `grantedAt` defaults to now. */
export type NewResourceGrant = Omit<ResourceGrant, 'grantedAt'> & { grantedAt?: Date };

/** Which part of a grant `InvalidGrantError` refused. */
export type GrantField = 'resourceType' | 'resourceId' | 'action' | 'grantedBy' | 'grantedAt';

/** `resource_type`: a lower-case name such as `documents`. */
export const RESOURCE_TYPE_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;
/** `resource_id`: 1 to 128 of `[A-Za-z0-9._:-]`, e.g. an integer, a uuid or `tenant:42`. */
export const RESOURCE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/** `action`: a lower-case name such as `read`, or `*` for every action. */
export const GRANT_ACTION_PATTERN = /^(?:\*|[a-z][a-z0-9_-]{0,63})$/;
const GRANTED_BY_MAX_LENGTH = 255;

/**
 * A grant, or a look-up of grants, named a resource type, resource id or action outside its grammar
 * (see `RESOURCE_TYPE_PATTERN`, `RESOURCE_ID_PATTERN`, `GRANT_ACTION_PATTERN`), a `grantedBy` longer
 * than 255 characters, or a `grantedAt` that is not a valid date. The refused value is not repeated: it
 * may come from a request.
 */
export class InvalidGrantError extends SecurityError {
  override readonly code = 'ERR_SECURITY_INVALID_GRANT';
  constructor(readonly field: GrantField) {
    super(`Invalid ${field} in a resource grant`, { field });
  }
}

/** Whether `value` is a valid resource type. */
export function isValidResourceType(value: unknown): value is string {
  return typeof value === 'string' && RESOURCE_TYPE_PATTERN.test(value);
}

/** Whether `value` is a valid resource id (check an id from a request with it before looking grants up). */
export function isValidResourceId(value: unknown): value is string {
  return typeof value === 'string' && RESOURCE_ID_PATTERN.test(value);
}

/** Whether `value` is a valid grant action, `*` included. */
export function isValidGrantAction(value: unknown): value is string {
  return typeof value === 'string' && GRANT_ACTION_PATTERN.test(value);
}

/**
 * Throws `InvalidGrantError` for the first part outside its grammar. Only the parts present as keys are
 * checked (a key holding `undefined` is refused); `grantedBy` may be null. Adapters call it first, so
 * every adapter refuses the same inputs the same way.
 */
export function assertValidGrantParts(parts: {
  resourceType?: unknown;
  resourceId?: unknown;
  action?: unknown;
  grantedBy?: unknown;
}): void {
  if ('resourceType' in parts && !isValidResourceType(parts.resourceType)) throw new InvalidGrantError('resourceType');
  if ('resourceId' in parts && !isValidResourceId(parts.resourceId)) throw new InvalidGrantError('resourceId');
  if ('action' in parts && !isValidGrantAction(parts.action)) throw new InvalidGrantError('action');
  if ('grantedBy' in parts && parts.grantedBy !== null) {
    const { grantedBy } = parts;
    // NUL is the one character Postgres text cannot hold.
    if (typeof grantedBy !== 'string' || codePoints(grantedBy) > GRANTED_BY_MAX_LENGTH || grantedBy.includes('\0')) {
      throw new InvalidGrantError('grantedBy');
    }
  }
}

/** Length in characters as Postgres counts them for varchar(n): code points, a surrogate pair being one. */
function codePoints(text: string): number {
  return text.length - (text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0);
}

/** Refuses, with `InvalidGrantError`, a new grant that any part of makes invalid (the principal aside). */
export function assertValidGrant(grant: NewResourceGrant): void {
  const { resourceType, resourceId, action, grantedAt } = grant;
  assertValidGrantParts({ resourceType, resourceId, action, grantedBy: grant.grantedBy ?? null });
  if (grantedAt !== undefined && !(grantedAt instanceof Date && Number.isFinite(grantedAt.getTime()))) {
    throw new InvalidGrantError('grantedAt');
  }
}

/**
 * The port of per-resource grants (`resource_grants`), and its DI token. Resource ids are stored as
 * given and compared exactly: pass the text Postgres gives for the id column (`CAST(id AS text)`: a
 * lower-case uuid, an integer without leading zeros), which is what `accessScopeToSql` compares them
 * with. Every method refuses a resource type, resource id or action outside its grammar with
 * `InvalidGrantError` (`ERR_SECURITY_INVALID_GRANT`); a principal id that is not a uuid is an unknown
 * principal. Adapters pass `describeGrantStoreContract`.
 */
export abstract class GrantStore {
  /** Which adapter this is, for the boot log. */
  abstract readonly kind: string;

  /**
   * Adds a grant; false, changing nothing (not even `grantedAt`), when the principal already had it.
   * Throws `UnknownPrincipalError` (`ERR_SECURITY_UNKNOWN_PRINCIPAL`) when the principal does not exist.
   */
  abstract add(grant: NewResourceGrant): Promise<boolean>;

  /** Removes one grant (`*` removes the wildcard grant only); false when there was none. */
  abstract remove(principalId: string, resourceType: string, resourceId: string, action: string): Promise<boolean>;

  /** The principal's grants, of one resource type when given, sorted by type, id and action. */
  abstract listForPrincipal(principalId: string, resourceType?: string): Promise<ResourceGrant[]>;

  /** Every grant on one resource, sorted by principal id and action. */
  abstract listForResource(resourceType: string, resourceId: string): Promise<ResourceGrant[]>;

  /**
   * The actions the principal was granted on one resource, sorted, `*` included as stored (it means
   * every action). One round trip: this runs on every policy check.
   */
  abstract actionsOn(principalId: string, resourceType: string, resourceId: string): Promise<string[]>;
}
