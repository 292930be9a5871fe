import { Injectable, Optional } from '@nestjs/common';
import type { Actor } from '../audit/actor.js';
import { SecurityEvents } from '../audit/security-events.service.js';
import { isValidPermission } from '../authz/core/permissions.js';
import { SecurityChangeBus } from '../changes/security-change.bus.js';
import { Clock } from '../core/clock.js';
import { InvalidCredentialsError, SecurityOperationError } from '../core/errors.js';
import type { RequestSummary } from '../http/http-request.js';
import { ApiKeyStore } from '../keys/api-key.store.js';
import { SigningKeyStore } from '../signing/signing-key.store.js';
import { Sessions } from '../sessions/sessions.service.js';
import { PasswordHasher } from './password-hasher.js';
import { checkPassword } from './password-policy.js';
import { PrincipalStore, type PrincipalRecord } from './principal.store.js';

/** What creating a principal takes. */
export interface CreatePrincipalInput {
  readonly username: string;
  readonly email?: string;
  readonly password?: string;
  readonly kind?: 'user' | 'service';
  readonly attributes?: Readonly<Record<string, unknown>>;
  readonly roles?: readonly string[];
}

/** A principal as the API and the CLI show it: never the password hash. */
export interface PrincipalView {
  readonly id: string;
  readonly kind: 'user' | 'service';
  readonly username: string;
  readonly email: string | null;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly roles: readonly string[];
  readonly createdAt: string;
  readonly disabledAt: string | null;
}

const USERNAME = /^[a-z0-9][a-z0-9._-]{2,63}$/;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;
const ROLE = /^[a-z][a-z0-9_-]{0,63}$/;

/**
 * Principals (users and services), their roles and passwords. Disabling a principal revokes every key it
 * has, API keys and signing keys; every change is audited and broadcast.
 */
@Injectable()
export class Principals {
  constructor(
    private readonly store: PrincipalStore,
    private readonly keys: ApiKeyStore,
    private readonly hasher: PasswordHasher,
    private readonly bus: SecurityChangeBus,
    private readonly events: SecurityEvents,
    private readonly clock: Clock,
    // Optional so that an application without request signing needs no signing key store.
    @Optional() private readonly signingKeys?: SigningKeyStore,
    // Optional for the same reason: disabling a principal and changing a password end its sessions.
    @Optional() private readonly sessions?: Sessions,
  ) {}

  async create(input: CreatePrincipalInput, actor: Actor): Promise<PrincipalView> {
    const username = input.username.trim().toLowerCase();
    if (!USERNAME.test(username)) {
      throw invalid(
        'ERR_SECURITY_INVALID_USERNAME',
        'A username has 3 to 64 lower-case letters, digits, ".", "_" or "-"',
      );
    }
    if (input.email !== undefined && !EMAIL.test(input.email))
      throw invalid('ERR_SECURITY_INVALID_EMAIL', 'Not an email address');
    let passwordHash: string | null = null;
    if (input.password !== undefined) {
      const problem = checkPassword(input.password);
      if (problem) throw invalid('ERR_SECURITY_WEAK_PASSWORD', passwordMessage(problem));
      passwordHash = await this.hasher.hash(input.password);
    }
    for (const role of input.roles ?? [])
      if (!ROLE.test(role)) throw invalid('ERR_SECURITY_INVALID_ROLE', 'Not a role name');
    let created: PrincipalRecord;
    try {
      created = await this.store.create({
        kind: input.kind ?? 'user',
        username,
        email: input.email ?? null,
        passwordHash,
        attributes: { ...input.attributes },
      });
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_SECURITY_USERNAME_TAKEN') {
        throw new SecurityOperationError('ERR_SECURITY_USERNAME_TAKEN', 'The username is taken', 'conflict');
      }
      throw error;
    }
    for (const role of input.roles ?? []) await this.assignRole(created.id, role, actor);
    await this.audit('ADMIN_ACTION', actor, { action: 'principal.create', principalId: created.id, username });
    return this.view(created, await this.store.rolesOf(created.id));
  }

  async get(id: string): Promise<PrincipalView | null> {
    const access = await this.store.accessOf(id);
    return access ? this.view(access.principal, access.roles) : null;
  }

  /**
   * Disables the principal, revokes all its keys (API keys and signing keys) and ends all its sessions at
   * once, everywhere.
   */
  async disable(
    id: string,
    actor: Actor,
  ): Promise<PrincipalView & { revokedKeys: string[]; revokedSigningKeys: string[]; endedSessions: string[] }> {
    const at = new Date(this.clock.now());
    const principal = await this.store.disable(id, at);
    if (!principal)
      throw new SecurityOperationError('ERR_SECURITY_UNKNOWN_PRINCIPAL', 'No such principal', 'not_found');
    const revokedKeys = await this.keys.revokeAllForPrincipal(id, at);
    const revokedSigningKeys = (await this.signingKeys?.revokeAllOf(id, at)) ?? [];
    // One principal change drops every instance's cached API keys and signing keys of this principal.
    await this.bus.announce({ kind: 'principal', id });
    const endedSessions = (await this.sessions?.endAllFor(id, { reason: 'principal_disabled', actor })) ?? [];
    await this.audit('ADMIN_ACTION', actor, {
      action: 'principal.disable',
      principalId: id,
      revokedKeys,
      revokedSigningKeys,
      endedSessions,
    });
    const revoked = [
      ...revokedKeys.map((keyId) => ({ keyId, details: { ownerId: id, reason: 'principal_disabled' } })),
      ...revokedSigningKeys.map((keyId) => ({
        keyId,
        details: { kind: 'signing', ownerId: id, reason: 'principal_disabled' },
      })),
    ];
    for (const { keyId, details } of revoked) {
      await this.events.record({
        type: 'KEY_REVOKED',
        outcome: 'success',
        principalId: actor.principalId,
        keyId,
        request: actor.request,
        actor: actor.label,
        details,
      });
    }
    return { ...this.view(principal, await this.store.rolesOf(id)), revokedKeys, revokedSigningKeys, endedSessions };
  }

  async assignRole(principalId: string, role: string, actor: Actor): Promise<boolean> {
    let assigned: boolean;
    try {
      assigned = await this.store.assignRole(principalId, role, actor.label);
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_SECURITY_UNKNOWN_ROLE') {
        throw new SecurityOperationError(
          'ERR_SECURITY_UNKNOWN_ROLE',
          `No role named "${role.slice(0, 64)}"`,
          'invalid',
        );
      }
      throw error;
    }
    if (assigned) {
      await this.bus.announce({ kind: 'principal', id: principalId });
      await this.events.record({
        type: 'ROLE_ASSIGNED',
        outcome: 'success',
        principalId: actor.principalId,
        request: actor.request,
        actor: actor.label,
        details: { subjectId: principalId, role },
      });
    }
    return assigned;
  }

  async revokeRole(principalId: string, role: string, actor: Actor): Promise<boolean> {
    const revoked = await this.store.revokeRole(principalId, role);
    if (revoked) {
      await this.bus.announce({ kind: 'principal', id: principalId });
      await this.events.record({
        type: 'ROLE_REVOKED',
        outcome: 'success',
        principalId: actor.principalId,
        request: actor.request,
        actor: actor.label,
        details: { subjectId: principalId, role },
      });
    }
    return revoked;
  }

  /** Every role with its permissions. */
  async listRoles(): Promise<Array<{ name: string; permissions: string[] }>> {
    return (await this.store.listRoles()).map(({ name, permissions }) => ({ name, permissions }));
  }

  /** Creates or replaces a role's permissions (seeding, administration). */
  async defineRole(name: string, permissions: readonly string[], actor: Actor): Promise<void> {
    if (!ROLE.test(name)) throw invalid('ERR_SECURITY_INVALID_ROLE', 'Not a role name');
    for (const permission of permissions) {
      if (!isValidPermission(permission))
        throw invalid('ERR_SECURITY_INVALID_PERMISSION', 'Not a permission (resource:action)');
    }
    const before = (await this.store.listRoles()).find((role) => role.name === name);
    const same = before && [...before.permissions].sort().join(' ') === [...new Set(permissions)].sort().join(' ');
    if (same) return;
    await this.store.upsertRole(name, permissions);
    await this.bus.announce({ kind: 'role', id: name });
    await this.audit('CONFIG_CHANGED', actor, { action: 'role.define', role: name, permissions });
  }

  /**
   * Checks a username and password. Unknown users, disabled users, users without a password and wrong
   * passwords all fail the same way and take the same time; the event keeps the reason.
   */
  async login(username: string, password: string, request?: RequestSummary): Promise<{ principalId: string }> {
    const principal = await this.store.findByUsername(username.trim().toLowerCase());
    let reason: string | undefined;
    if (!principal || !principal.passwordHash) {
      await this.hasher.burn(password);
      reason = principal ? 'no_password' : 'unknown_user';
    } else if (!(await this.hasher.verify(principal.passwordHash, password))) {
      reason = 'wrong_password';
    } else if (principal.disabledAt) {
      reason = 'principal_disabled';
    }
    if (reason || !principal) {
      await this.events.record({
        type: 'LOGIN_FAILED',
        outcome: 'failure',
        principalId: principal?.id,
        request,
        details: { reason, username: username.slice(0, 64) },
      });
      throw new InvalidCredentialsError(principal?.disabledAt ? 'principal_disabled' : 'mismatch');
    }
    await this.events.record({ type: 'LOGIN_SUCCEEDED', outcome: 'success', principalId: principal.id, request });
    return { principalId: principal.id };
  }

  /**
   * Changes the principal's own password after checking the current one, then ends every session of the
   * principal but `keepSessionId` (the caller's, which the caller should rotate). A wrong current password
   * is `ERR_SECURITY_WRONG_PASSWORD` (400: the caller's credential is fine, only this proof failed); a weak
   * or unchanged new one is `ERR_SECURITY_WEAK_PASSWORD` (400). Both outcomes are `PASSWORD_CHANGED` events.
   * Returns the ids of the sessions ended.
   */
  async changePassword(
    principalId: string,
    { currentPassword, newPassword }: { currentPassword: string; newPassword: string },
    { keepSessionId, request }: { keepSessionId?: string; request?: RequestSummary } = {},
  ): Promise<{ endedSessions: string[] }> {
    const principal = await this.store.findById(principalId);
    let ok = false;
    // Without a password hash the same work is done, so timing tells nothing about the account.
    if (principal?.passwordHash) ok = await this.hasher.verify(principal.passwordHash, currentPassword);
    else await this.hasher.burn(currentPassword);
    const refuse = async (reason: string, error: SecurityOperationError): Promise<never> => {
      await this.events.record({
        type: 'PASSWORD_CHANGED',
        outcome: 'failure',
        principalId,
        request,
        details: { reason },
      });
      throw error;
    };
    if (!principal || !ok || principal.disabledAt) {
      return refuse(
        principal?.passwordHash ? 'wrong_password' : 'no_password',
        invalid('ERR_SECURITY_WRONG_PASSWORD', 'The current password is not correct'),
      );
    }
    const problem = checkPassword(newPassword);
    if (problem)
      return refuse(`weak_password:${problem}`, invalid('ERR_SECURITY_WEAK_PASSWORD', passwordMessage(problem)));
    if (newPassword === currentPassword) {
      return refuse(
        'unchanged',
        invalid('ERR_SECURITY_WEAK_PASSWORD', 'The new password must differ from the current one'),
      );
    }
    await this.store.setPasswordHash(principal.id, await this.hasher.hash(newPassword));
    const endedSessions =
      (await this.sessions?.endAllFor(principal.id, {
        reason: 'password_changed',
        exceptId: keepSessionId,
        actor: { principalId: principal.id, label: principal.id, request },
      })) ?? [];
    await this.events.record({
      type: 'PASSWORD_CHANGED',
      outcome: 'success',
      principalId: principal.id,
      request,
      details: { endedSessions: endedSessions.length },
    });
    return { endedSessions };
  }

  private view(principal: PrincipalRecord, roles: readonly string[]): PrincipalView {
    return {
      id: principal.id,
      kind: principal.kind,
      username: principal.username,
      email: principal.email,
      attributes: principal.attributes,
      roles,
      createdAt: principal.createdAt.toISOString(),
      disabledAt: principal.disabledAt?.toISOString() ?? null,
    };
  }

  private async audit(
    type: 'ADMIN_ACTION' | 'CONFIG_CHANGED',
    actor: Actor,
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.events.record({
      type,
      outcome: 'success',
      principalId: actor.principalId,
      request: actor.request,
      actor: actor.label,
      details,
    });
  }
}

function invalid(code: `ERR_SECURITY_${string}`, message: string): SecurityOperationError {
  return new SecurityOperationError(code, message, 'invalid');
}

function passwordMessage(problem: string): string {
  if (problem === 'too_short') return 'A password has at least 12 characters';
  if (problem === 'too_long') return 'A password has at most 256 characters';
  return 'This password is too common; choose another';
}
