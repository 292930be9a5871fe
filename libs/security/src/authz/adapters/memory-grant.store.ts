import { isUuid, UnknownPrincipalError, type PrincipalStore } from '../../principals/principal.store.js';
import {
  assertValidGrant,
  assertValidGrantParts,
  GrantStore,
  type NewResourceGrant,
  type ResourceGrant,
} from '../grant.store.js';

/**
 * Resource grants in process memory, for tests and apps without a database. Given a `PrincipalStore`,
 * it refuses grants to unknown principals as the database's foreign key does; without one it accepts
 * any uuid.
 */
export class MemoryGrantStore extends GrantStore {
  readonly kind = 'memory';
  /** principal id -> `type/id` -> action -> grant: `actionsOn` reads one inner map. */
  private readonly grants = new Map<string, Map<string, Map<string, ResourceGrant>>>();

  constructor(private readonly principals?: PrincipalStore) {
    super();
  }

  async add(grant: NewResourceGrant): Promise<boolean> {
    assertValidGrant(grant);
    if (!isUuid(grant.principalId)) throw new UnknownPrincipalError(grant.principalId);
    if (this.principals && !(await this.principals.findById(grant.principalId))) {
      throw new UnknownPrincipalError(grant.principalId);
    }
    // Nothing awaits from here to the insert, so check and insert are atomic.
    const principalId = grant.principalId.toLowerCase();
    let byResource = this.grants.get(principalId);
    if (!byResource) this.grants.set(principalId, (byResource = new Map()));
    const key = resourceKey(grant.resourceType, grant.resourceId);
    let byAction = byResource.get(key);
    if (!byAction) byResource.set(key, (byAction = new Map()));
    if (byAction.has(grant.action)) return false;
    byAction.set(grant.action, {
      principalId,
      resourceType: grant.resourceType,
      resourceId: grant.resourceId,
      action: grant.action,
      grantedAt: new Date(grant.grantedAt?.getTime() ?? Date.now()),
      grantedBy: grant.grantedBy ?? null,
    });
    return true;
  }

  async remove(principalId: string, resourceType: string, resourceId: string, action: string): Promise<boolean> {
    assertValidGrantParts({ resourceType, resourceId, action });
    if (!isUuid(principalId)) return false;
    const byResource = this.grants.get(principalId.toLowerCase());
    const key = resourceKey(resourceType, resourceId);
    const byAction = byResource?.get(key);
    if (!byResource || !byAction?.delete(action)) return false;
    if (byAction.size === 0) byResource.delete(key);
    if (byResource.size === 0) this.grants.delete(principalId.toLowerCase());
    return true;
  }

  async listForPrincipal(principalId: string, resourceType?: string): Promise<ResourceGrant[]> {
    if (resourceType !== undefined) assertValidGrantParts({ resourceType });
    if (!isUuid(principalId)) return [];
    const byResource = this.grants.get(principalId.toLowerCase());
    return [...(byResource?.values() ?? [])]
      .flatMap((byAction) => [...byAction.values()])
      .filter((grant) => resourceType === undefined || grant.resourceType === resourceType)
      .sort(
        (a, b) =>
          compare(a.resourceType, b.resourceType) || compare(a.resourceId, b.resourceId) || compare(a.action, b.action),
      )
      .map(copy);
  }

  async listForResource(resourceType: string, resourceId: string): Promise<ResourceGrant[]> {
    assertValidGrantParts({ resourceType, resourceId });
    const key = resourceKey(resourceType, resourceId);
    return [...this.grants.values()]
      .flatMap((byResource) => [...(byResource.get(key)?.values() ?? [])])
      .sort((a, b) => compare(a.principalId, b.principalId) || compare(a.action, b.action))
      .map(copy);
  }

  async actionsOn(principalId: string, resourceType: string, resourceId: string): Promise<string[]> {
    assertValidGrantParts({ resourceType, resourceId });
    if (!isUuid(principalId)) return [];
    const byAction = this.grants.get(principalId.toLowerCase())?.get(resourceKey(resourceType, resourceId));
    return [...(byAction?.keys() ?? [])].sort(compare);
  }
}

/** `/` appears in neither grammar, so the key is unambiguous. */
function resourceKey(resourceType: string, resourceId: string): string {
  return `${resourceType}/${resourceId}`;
}

/** Code-unit order, as Postgres sorts with `COLLATE "C"` for these ASCII-only values. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function copy(grant: ResourceGrant): ResourceGrant {
  return { ...grant, grantedAt: new Date(grant.grantedAt.getTime()) };
}
