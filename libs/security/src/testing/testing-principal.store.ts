import { MemoryPrincipalStore } from '../principals/adapters/memory-principal.store.js';
import type { PrincipalAccess } from '../principals/principal.store.js';

/**
 * The in-memory principal store of `SecurityTestingModule`, which can also give a principal permissions of
 * its own, outside any role, so a test states exactly what a caller may do without defining roles first.
 * Those permissions count like a role's everywhere permissions are read (API keys, sessions, signatures).
 */
export class TestingPrincipalStore extends MemoryPrincipalStore {
  private readonly direct = new Map<string, readonly string[]>();

  /** Adds permissions held by the principal itself (`users:read`, wildcards allowed). */
  grantDirect(principalId: string, permissions: readonly string[]): void {
    const id = principalId.toLowerCase();
    this.direct.set(id, [...new Set([...(this.direct.get(id) ?? []), ...permissions])]);
  }

  override async accessOf(principalId: string): Promise<PrincipalAccess | null> {
    const access = await super.accessOf(principalId);
    const own = access ? this.direct.get(access.principal.id) : undefined;
    if (!access || !own) return access;
    return { ...access, permissions: [...new Set([...access.permissions, ...own])].sort() };
  }
}
