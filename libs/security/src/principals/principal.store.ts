import { SecurityError } from '../core/errors.js';
import type { PrincipalKind } from './principal.entity.js';

/** A stored principal. */
export interface PrincipalRecord {
  id: string;
  kind: PrincipalKind;
  username: string;
  email: string | null;
  passwordHash: string | null;
  attributes: Record<string, unknown>;
  createdAt: Date;
  disabledAt: Date | null;
}

/** What `PrincipalStore.create` takes; `id` defaults to a random uuid, `createdAt` to now. */
export interface NewPrincipal {
  id?: string;
  kind: PrincipalKind;
  username: string;
  email?: string | null;
  passwordHash?: string | null;
  attributes?: Record<string, unknown>;
  createdAt?: Date;
}

/** A role and its permissions, sorted. */
export interface RoleRecord {
  name: string;
  description: string | null;
  permissions: string[];
}

/** Everything authentication needs about a principal, read in one round trip. */
export interface PrincipalAccess {
  /** Returned even when disabled: the caller decides (and says why) from `principal.disabledAt`. */
  principal: PrincipalRecord;
  /** Role names, sorted. */
  roles: string[];
  /** Union of the roles' permissions, deduplicated and sorted. */
  permissions: string[];
}

/** `PrincipalStore.create` was given a username that another principal already has. */
export class UsernameTakenError extends SecurityError {
  override readonly code = 'ERR_SECURITY_USERNAME_TAKEN';
  constructor(readonly username: string) {
    super('This username is already taken', { username });
  }
}

/** `PrincipalStore.create` was given an id that another principal already has. */
export class PrincipalIdTakenError extends SecurityError {
  override readonly code = 'ERR_SECURITY_PRINCIPAL_ID_TAKEN';
  constructor(readonly principalId: string) {
    super('A principal with this id already exists', { principalId });
  }
}

/** A role was named that does not exist (create it with `upsertRole` first). */
export class UnknownRoleError extends SecurityError {
  override readonly code = 'ERR_SECURITY_UNKNOWN_ROLE';
  constructor(readonly role: string) {
    super(`Unknown role ${JSON.stringify(role)}`, { role });
  }
}

/** Something was attached (a role, an API key) to a principal that does not exist. */
export class UnknownPrincipalError extends SecurityError {
  override readonly code = 'ERR_SECURITY_UNKNOWN_PRINCIPAL';
  constructor(readonly principalId: string) {
    super('Unknown principal', { principalId });
  }
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * True for a uuid in its canonical hyphenated form (any case). Adapters answer "not found" for
 * anything else instead of letting Postgres reject it, and refuse it as a new id.
 */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/** Refuses, with a `TypeError`, what the `principals` table would refuse: an unknown kind, a non-uuid id. */
export function assertValidNewPrincipal(principal: NewPrincipal): void {
  if (principal.kind !== 'user' && principal.kind !== 'service') {
    throw new TypeError(`Principal kind must be 'user' or 'service', got ${JSON.stringify(principal.kind)}`);
  }
  if (principal.id !== undefined && !isUuid(principal.id)) {
    throw new TypeError(`Principal id must be a uuid, got ${JSON.stringify(principal.id)}`);
  }
}

/**
 * The port of principals and role-based access, and its DI token. Every mutation is atomic;
 * adapters pass `describePrincipalStoreContract`.
 */
export abstract class PrincipalStore {
  /** Which adapter this is, for the boot log. */
  abstract readonly kind: string;

  /**
   * Stores a new principal. Throws `UsernameTakenError` (`ERR_SECURITY_USERNAME_TAKEN`) for a duplicate
   * username, `PrincipalIdTakenError` for a duplicate id, and a `TypeError` for an unknown kind or an
   * id that is not a uuid.
   */
  abstract create(principal: NewPrincipal): Promise<PrincipalRecord>;

  /** The principal, disabled or not; null when unknown or when `id` is not a uuid. */
  abstract findById(id: string): Promise<PrincipalRecord | null>;

  /** The principal with exactly this username (case-sensitive), or null. */
  abstract findByUsername(username: string): Promise<PrincipalRecord | null>;

  /** Disables a principal; idempotent: disabling again keeps the first `disabledAt`. Null when unknown. */
  abstract disable(id: string, at: Date): Promise<PrincipalRecord | null>;

  /** Replaces the password hash (null removes it); returns the updated principal, or null when unknown. */
  abstract setPasswordHash(id: string, hash: string | null): Promise<PrincipalRecord | null>;

  /**
   * Creates the role or replaces its permission set, atomically (readers see the old set or the new
   * one, never a mix). An omitted description keeps the current one.
   */
  abstract upsertRole(name: string, permissions: readonly string[], description?: string): Promise<void>;

  /** Every role with its permissions, sorted by name. */
  abstract listRoles(): Promise<RoleRecord[]>;

  /**
   * Grants a role; false when the principal already has it. Throws `UnknownRoleError`
   * (`ERR_SECURITY_UNKNOWN_ROLE`) or `UnknownPrincipalError` when either does not exist.
   */
  abstract assignRole(principalId: string, role: string, grantedBy?: string): Promise<boolean>;

  /** Takes a role away; false when the principal did not have it. */
  abstract revokeRole(principalId: string, role: string): Promise<boolean>;

  /** The principal's role names, sorted. */
  abstract rolesOf(principalId: string): Promise<string[]>;

  /**
   * The principal with its roles and effective permissions, in one round trip (it runs on every cache
   * miss of authentication); null when unknown.
   */
  abstract accessOf(principalId: string): Promise<PrincipalAccess | null>;
}
