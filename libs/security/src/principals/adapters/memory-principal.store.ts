import { randomUUID } from 'node:crypto';
import {
  assertValidNewPrincipal,
  isUuid,
  PrincipalIdTakenError,
  PrincipalStore,
  UnknownPrincipalError,
  UnknownRoleError,
  UsernameTakenError,
  type NewPrincipal,
  type PrincipalAccess,
  type PrincipalRecord,
  type RoleRecord,
} from '../principal.store.js';

interface StoredRole {
  description: string | null;
  permissions: Set<string>;
}

interface Grant {
  grantedAt: Date;
  grantedBy: string | null;
}

/** Principals and roles in process memory, for tests and apps without a database. */
export class MemoryPrincipalStore extends PrincipalStore {
  readonly kind = 'memory';
  private readonly principals = new Map<string, PrincipalRecord>();
  private readonly idsByUsername = new Map<string, string>();
  private readonly roles = new Map<string, StoredRole>();
  private readonly grants = new Map<string, Map<string, Grant>>();

  async create(principal: NewPrincipal): Promise<PrincipalRecord> {
    assertValidNewPrincipal(principal);
    const id = principal.id?.toLowerCase() ?? randomUUID();
    if (this.principals.has(id)) throw new PrincipalIdTakenError(id);
    if (this.idsByUsername.has(principal.username)) throw new UsernameTakenError(principal.username);
    const record: PrincipalRecord = {
      id,
      kind: principal.kind,
      username: principal.username,
      email: principal.email ?? null,
      passwordHash: principal.passwordHash ?? null,
      attributes: asJson(principal.attributes ?? {}),
      createdAt: new Date(principal.createdAt?.getTime() ?? Date.now()),
      disabledAt: null,
    };
    this.principals.set(id, record);
    this.idsByUsername.set(record.username, id);
    return copy(record);
  }

  async findById(id: string): Promise<PrincipalRecord | null> {
    const record = this.get(id);
    return record ? copy(record) : null;
  }

  async findByUsername(username: string): Promise<PrincipalRecord | null> {
    const id = this.idsByUsername.get(username);
    return id === undefined ? null : copy(this.principals.get(id)!);
  }

  async disable(id: string, at: Date): Promise<PrincipalRecord | null> {
    const record = this.get(id);
    if (!record) return null;
    record.disabledAt ??= new Date(at.getTime());
    return copy(record);
  }

  async setPasswordHash(id: string, hash: string | null): Promise<PrincipalRecord | null> {
    const record = this.get(id);
    if (!record) return null;
    record.passwordHash = hash;
    return copy(record);
  }

  async upsertRole(name: string, permissions: readonly string[], description?: string): Promise<void> {
    const current = this.roles.get(name);
    this.roles.set(name, {
      description: description ?? current?.description ?? null,
      permissions: new Set(permissions),
    });
  }

  async listRoles(): Promise<RoleRecord[]> {
    return [...this.roles.entries()]
      .map(([name, role]) => ({ name, description: role.description, permissions: [...role.permissions].sort() }))
      .sort((a, b) => compare(a.name, b.name));
  }

  async assignRole(principalId: string, role: string, grantedBy?: string): Promise<boolean> {
    const principal = this.get(principalId);
    if (!principal) throw new UnknownPrincipalError(principalId);
    if (!this.roles.has(role)) throw new UnknownRoleError(role);
    let granted = this.grants.get(principal.id);
    if (!granted) this.grants.set(principal.id, (granted = new Map()));
    if (granted.has(role)) return false;
    granted.set(role, { grantedAt: new Date(), grantedBy: grantedBy ?? null });
    return true;
  }

  async revokeRole(principalId: string, role: string): Promise<boolean> {
    const principal = this.get(principalId);
    return principal ? (this.grants.get(principal.id)?.delete(role) ?? false) : false;
  }

  async rolesOf(principalId: string): Promise<string[]> {
    const principal = this.get(principalId);
    return principal ? this.roleNamesOf(principal.id) : [];
  }

  async accessOf(principalId: string): Promise<PrincipalAccess | null> {
    const principal = this.get(principalId);
    if (!principal) return null;
    const roles = this.roleNamesOf(principal.id);
    const permissions = new Set(roles.flatMap((role) => [...(this.roles.get(role)?.permissions ?? [])]));
    return { principal: copy(principal), roles, permissions: [...permissions].sort() };
  }

  private get(id: string): PrincipalRecord | undefined {
    // Postgres reads a uuid in any case; anything that is not a uuid is simply not found.
    return isUuid(id) ? this.principals.get(id.toLowerCase()) : undefined;
  }

  private roleNamesOf(principalId: string): string[] {
    return [...(this.grants.get(principalId)?.keys() ?? [])].sort();
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A jsonb round trip: what Postgres would hand back. */
function asJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function copy(record: PrincipalRecord): PrincipalRecord {
  return {
    ...record,
    attributes: asJson(record.attributes),
    createdAt: new Date(record.createdAt.getTime()),
    disabledAt: record.disabledAt && new Date(record.disabledAt.getTime()),
  };
}
