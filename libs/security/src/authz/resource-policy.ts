import type { AccessScope } from './core/access-scope.js';
import type { Principal } from '../principals/principal.js';
import type { RequestSummary } from '../http/http-request.js';

/** What a policy knows besides principal, action and resource. */
export interface PolicyContext {
  /** Actions explicitly granted to the principal on this resource (`*` = every action). */
  readonly grantedActions: readonly string[];
  readonly request?: RequestSummary;
}

/**
 * An attribute-based policy for one resource type: loads the resource a route names, decides each action
 * from principal (with attributes), resource, grants and request, and describes which rows a list query
 * may return. Policies are ordinary injectable providers; `@Authorize(Policy, action)` applies one.
 * @example
 * @Injectable() class DocumentPolicy extends ResourcePolicy<Document> { ... }
 */
export abstract class ResourcePolicy<R = unknown> {
  /** Resource type of grants and events, e.g. `document`. */
  abstract readonly resourceType: string;

  /** Loads the resource by the route's id; `null` when there is none (or the id is not well-formed). */
  abstract load(id: string): Promise<R | null>;

  /** The resource's id as grants store it. */
  abstract idOf(resource: R): string;

  /** Whether `principal` may perform `action` on `resource`. Deny by default: return true only on purpose. */
  abstract can(principal: Principal, action: string, resource: R, context: PolicyContext): boolean;

  /**
   * Whether `principal` may know that `resource` exists. A refused action on an invisible resource answers
   * 404 like a missing one (no existence oracle); on a visible one, 403. Default: may it `read`.
   */
  canSee(principal: Principal, resource: R, context: PolicyContext): boolean {
    return this.can(principal, 'read', resource, context);
  }

  /** The rows a list query may return for `action` (see `restrictToAccessible`). */
  abstract scope(principal: Principal, action: string): AccessScope;

  /** Actions `grantedActions` allows, `*` included. */
  protected granted(action: string, context: PolicyContext): boolean {
    return context.grantedActions.includes(action) || context.grantedActions.includes('*');
  }
}
