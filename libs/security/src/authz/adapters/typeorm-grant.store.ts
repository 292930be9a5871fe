import type { DataSource } from 'typeorm';
import { isUuid, UnknownPrincipalError } from '../../principals/principal.store.js';
import {
  assertValidGrant,
  assertValidGrantParts,
  GrantStore,
  type NewResourceGrant,
  type ResourceGrant,
} from '../grant.store.js';

interface GrantRow {
  principal_id: string;
  resource_type: string;
  resource_id: string;
  action: string;
  granted_at: Date;
  granted_by: string | null;
}

const COLUMNS = 'principal_id, resource_type, resource_id, action, granted_at, granted_by';

/**
 * Resource grants in Postgres, with raw parameterised SQL: each call is one statement, so mutations
 * are atomic without a transaction and every call costs one round trip.
 */
export class TypeOrmGrantStore extends GrantStore {
  readonly kind = 'postgres';

  constructor(private readonly dataSource: DataSource) {
    super();
  }

  async add(grant: NewResourceGrant): Promise<boolean> {
    assertValidGrant(grant);
    if (!isUuid(grant.principalId)) throw new UnknownPrincipalError(grant.principalId);
    try {
      // DO NOTHING leaves an existing grant (and its granted_at) as it is, and returns no row for it.
      const rows: unknown[] = await this.dataSource.query(
        `INSERT INTO resource_grants (principal_id, resource_type, resource_id, action, granted_at, granted_by)
         VALUES ($1, $2, $3, $4, COALESCE($5::timestamptz, now()), $6)
         ON CONFLICT (principal_id, resource_type, resource_id, action) DO NOTHING
         RETURNING action`,
        [
          grant.principalId,
          grant.resourceType,
          grant.resourceId,
          grant.action,
          grant.grantedAt ?? null,
          grant.grantedBy ?? null,
        ],
      );
      return rows.length === 1;
    } catch (error) {
      const driverError = ((error as { driverError?: unknown } | null)?.driverError ?? error ?? {}) as {
        code?: string;
        constraint?: string;
      };
      if (driverError.code === '23503' && driverError.constraint === 'resource_grants_principal_id_fkey') {
        throw new UnknownPrincipalError(grant.principalId);
      }
      throw error;
    }
  }

  async remove(principalId: string, resourceType: string, resourceId: string, action: string): Promise<boolean> {
    assertValidGrantParts({ resourceType, resourceId, action });
    if (!isUuid(principalId)) return false;
    const [, affected]: [unknown[], number] = await this.dataSource.query(
      `DELETE FROM resource_grants
       WHERE principal_id = $1 AND resource_type = $2 AND resource_id = $3 AND action = $4
       RETURNING action`,
      [principalId, resourceType, resourceId, action],
    );
    return affected === 1;
  }

  async listForPrincipal(principalId: string, resourceType?: string): Promise<ResourceGrant[]> {
    if (resourceType !== undefined) assertValidGrantParts({ resourceType });
    if (!isUuid(principalId)) return [];
    const rows: GrantRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM resource_grants
       WHERE principal_id = $1 AND ($2::varchar IS NULL OR resource_type = $2::varchar)
       ORDER BY resource_type COLLATE "C", resource_id COLLATE "C", action COLLATE "C"`,
      [principalId, resourceType ?? null],
    );
    return rows.map(toGrant);
  }

  async listForResource(resourceType: string, resourceId: string): Promise<ResourceGrant[]> {
    assertValidGrantParts({ resourceType, resourceId });
    const rows: GrantRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM resource_grants
       WHERE resource_type = $1 AND resource_id = $2
       ORDER BY principal_id, action COLLATE "C"`,
      [resourceType, resourceId],
    );
    return rows.map(toGrant);
  }

  async actionsOn(principalId: string, resourceType: string, resourceId: string): Promise<string[]> {
    assertValidGrantParts({ resourceType, resourceId });
    if (!isUuid(principalId)) return [];
    // A prefix of the primary key: an index-only range scan.
    const rows: Array<{ action: string }> = await this.dataSource.query(
      `SELECT action FROM resource_grants
       WHERE principal_id = $1 AND resource_type = $2 AND resource_id = $3
       ORDER BY action COLLATE "C"`,
      [principalId, resourceType, resourceId],
    );
    return rows.map((row) => row.action);
  }
}

function toGrant(row: GrantRow): ResourceGrant {
  return {
    principalId: row.principal_id,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    action: row.action,
    grantedAt: new Date(row.granted_at),
    grantedBy: row.granted_by,
  };
}
