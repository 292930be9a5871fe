import { AuditEventEntity } from '../audit/audit-event.entity.js';
import { PrincipalRoleEntity } from '../authz/principal-role.entity.js';
import { RolePermissionEntity } from '../authz/role-permission.entity.js';
import { RoleEntity } from '../authz/role.entity.js';
import { ApiKeyEntity } from '../keys/api-key.entity.js';
import { PrincipalEntity } from '../principals/principal.entity.js';
import { SecurityInitial1764200000000 } from './migrations/1764200000000-security-initial.js';
import { SecurityChanges1764300000000 } from './migrations/1764300000000-security-changes.js';
import { ApiKeysAndRoles1764400000000 } from './migrations/1764400000000-api-keys-and-roles.js';
import { ResourceGrants1764500000000 } from './migrations/1764500000000-resource-grants.js';
import { AuditAppendOnly1764700000000 } from './migrations/1764700000000-audit-append-only.js';
import { SigningKeys1764800000000 } from './migrations/1764800000000-signing-keys.js';
import { DeprecatedCalls1764900000000 } from './migrations/1764900000000-deprecated-calls.js';
import { DeprecatedCallEntity } from '../versioning/deprecated-call.entity.js';
import { Sessions1765000000000 } from './migrations/1765000000000-sessions.js';
import { SessionEntity } from '../sessions/session.entity.js';
import { MfaFactors1765100000000 } from './migrations/1765100000000-mfa-factors.js';
import { MfaFactorEntity, MfaRecoveryCodeEntity } from '../mfa/mfa-factor.entity.js';
import { ResourceGrantEntity } from '../authz/resource-grant.entity.js';
import { SigningKeyEntity } from '../signing/signing-key.entity.js';

export { AuditEventEntity, type AuditOutcome } from '../audit/audit-event.entity.js';
export { PrincipalEntity, type PrincipalKind } from '../principals/principal.entity.js';
export { ApiKeyEntity } from '../keys/api-key.entity.js';
export { RoleEntity } from '../authz/role.entity.js';
export { RolePermissionEntity } from '../authz/role-permission.entity.js';
export { PrincipalRoleEntity } from '../authz/principal-role.entity.js';
export { ResourceGrantEntity } from '../authz/resource-grant.entity.js';
export { SigningKeyEntity } from '../signing/signing-key.entity.js';
export { DeprecatedCallEntity } from '../versioning/deprecated-call.entity.js';
export { MfaFactorEntity, MfaRecoveryCodeEntity } from '../mfa/mfa-factor.entity.js';
export { SessionEntity } from '../sessions/session.entity.js';

/** Every entity the library maps; spread into TypeORM's `entities: [...SECURITY_ENTITIES]`. */
export const SECURITY_ENTITIES = [
  PrincipalEntity,
  AuditEventEntity,
  ApiKeyEntity,
  RoleEntity,
  RolePermissionEntity,
  PrincipalRoleEntity,
  ResourceGrantEntity,
  SigningKeyEntity,
  DeprecatedCallEntity,
  SessionEntity,
  MfaFactorEntity,
  MfaRecoveryCodeEntity,
] as const;

/** The library's migrations, oldest first; spread into TypeORM's `migrations: [...SECURITY_MIGRATIONS]`. */
export const SECURITY_MIGRATIONS = [
  SecurityInitial1764200000000,
  SecurityChanges1764300000000,
  ApiKeysAndRoles1764400000000,
  ResourceGrants1764500000000,
  AuditAppendOnly1764700000000,
  SigningKeys1764800000000,
  DeprecatedCalls1764900000000,
  Sessions1765000000000,
  MfaFactors1765100000000,
] as const;
