import { AuditEventEntity } from '../audit/audit-event.entity.js';
import { PrincipalEntity } from '../principals/principal.entity.js';
import { SecurityInitial1764200000000 } from './migrations/1764200000000-security-initial.js';

export { AuditEventEntity, type AuditOutcome } from '../audit/audit-event.entity.js';
export { PrincipalEntity, type PrincipalKind } from '../principals/principal.entity.js';

/** Every entity the library maps; spread into TypeORM's `entities: [...SECURITY_ENTITIES]`. */
export const SECURITY_ENTITIES = [PrincipalEntity, AuditEventEntity] as const;

/** The library's migrations, oldest first; spread into TypeORM's `migrations: [...SECURITY_MIGRATIONS]`. */
export const SECURITY_MIGRATIONS = [SecurityInitial1764200000000] as const;
