import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
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

interface PrincipalRow {
  id: string;
  kind: PrincipalRecord['kind'];
  username: string;
  email: string | null;
  password_hash: string | null;
  attributes: Record<string, unknown>;
  created_at: Date;
  disabled_at: Date | null;
}

const PRINCIPAL_COLUMNS = 'id, kind, username, email, password_hash, attributes, created_at, disabled_at';

/**
 * Principals and roles in Postgres, with raw parameterised SQL: each mutation is one statement (or
 * one transaction) that returns the row it wrote.
 */
export class TypeOrmPrincipalStore extends PrincipalStore {
  readonly kind = 'postgres';

  constructor(private readonly dataSource: DataSource) {
    super();
  }

  async create(principal: NewPrincipal): Promise<PrincipalRecord> {
    assertValidNewPrincipal(principal);
    const id = principal.id?.toLowerCase() ?? randomUUID();
    try {
      const rows: PrincipalRow[] = await this.dataSource.query(
        `INSERT INTO principals (id, kind, username, email, password_hash, attributes, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7::timestamptz, now()))
         RETURNING ${PRINCIPAL_COLUMNS}`,
        [
          id,
          principal.kind,
          principal.username,
          principal.email ?? null,
          principal.passwordHash ?? null,
          JSON.stringify(principal.attributes ?? {}),
          principal.createdAt ?? null,
        ],
      );
      return toPrincipal(rows[0]!);
    } catch (error) {
      const { code, constraint } = driverErrorOf(error);
      if (code === '23505' && constraint === 'principals_username_key')
        throw new UsernameTakenError(principal.username);
      if (code === '23505' && constraint === 'principals_pkey') throw new PrincipalIdTakenError(id);
      throw error;
    }
  }

  async findById(id: string): Promise<PrincipalRecord | null> {
    if (!isUuid(id)) return null;
    const rows: PrincipalRow[] = await this.dataSource.query(
      `SELECT ${PRINCIPAL_COLUMNS} FROM principals WHERE id = $1`,
      [id],
    );
    return rows[0] ? toPrincipal(rows[0]) : null;
  }

  async findByUsername(username: string): Promise<PrincipalRecord | null> {
    const rows: PrincipalRow[] = await this.dataSource.query(
      `SELECT ${PRINCIPAL_COLUMNS} FROM principals WHERE username = $1`,
      [username],
    );
    return rows[0] ? toPrincipal(rows[0]) : null;
  }

  async disable(id: string, at: Date): Promise<PrincipalRecord | null> {
    if (!isUuid(id)) return null;
    // COALESCE keeps the first disabledAt, so a repeated disable changes nothing.
    const [rows]: [PrincipalRow[], number] = await this.dataSource.query(
      `UPDATE principals SET disabled_at = COALESCE(disabled_at, $2) WHERE id = $1 RETURNING ${PRINCIPAL_COLUMNS}`,
      [id, at],
    );
    return rows[0] ? toPrincipal(rows[0]) : null;
  }

  async setPasswordHash(id: string, hash: string | null): Promise<PrincipalRecord | null> {
    if (!isUuid(id)) return null;
    const [rows]: [PrincipalRow[], number] = await this.dataSource.query(
      `UPDATE principals SET password_hash = $2 WHERE id = $1 RETURNING ${PRINCIPAL_COLUMNS}`,
      [id, hash],
    );
    return rows[0] ? toPrincipal(rows[0]) : null;
  }

  async upsertRole(name: string, permissions: readonly string[], description?: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      // The upsert locks the role's row until commit, so concurrent upserts of one role run one after
      // the other; each later statement sees the committed state (READ COMMITTED), so the final set
      // is exactly one caller's, never a mix.
      await manager.query(
        `INSERT INTO roles (name, description) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET description = COALESCE(EXCLUDED.description, roles.description)`,
        [name, description ?? null],
      );
      await manager.query(`DELETE FROM role_permissions WHERE role = $1 AND NOT (permission = ANY($2::text[]))`, [
        name,
        [...permissions],
      ]);
      await manager.query(
        `INSERT INTO role_permissions (role, permission)
         SELECT DISTINCT $1::varchar, permission FROM unnest($2::text[]) AS permission
         ON CONFLICT DO NOTHING`,
        [name, [...permissions]],
      );
    });
  }

  async listRoles(): Promise<RoleRecord[]> {
    const rows: Array<{ name: string; description: string | null; permissions: string[] }> =
      await this.dataSource.query(
        `SELECT r.name, r.description,
                COALESCE(array_agg(rp.permission) FILTER (WHERE rp.permission IS NOT NULL), '{}')::text[] AS permissions
         FROM roles r
         LEFT JOIN role_permissions rp ON rp.role = r.name
         GROUP BY r.name
         ORDER BY r.name COLLATE "C"`,
      );
    return rows.map((row) => ({ name: row.name, description: row.description, permissions: row.permissions.sort() }));
  }

  async assignRole(principalId: string, role: string, grantedBy?: string): Promise<boolean> {
    if (!isUuid(principalId)) throw new UnknownPrincipalError(principalId);
    try {
      const rows: unknown[] = await this.dataSource.query(
        `INSERT INTO principal_roles (principal_id, role, granted_by) VALUES ($1, $2, $3)
         ON CONFLICT (principal_id, role) DO NOTHING
         RETURNING role`,
        [principalId, role, grantedBy ?? null],
      );
      return rows.length === 1;
    } catch (error) {
      const { code, constraint } = driverErrorOf(error);
      if (code === '23503' && constraint === 'principal_roles_role_fkey') throw new UnknownRoleError(role);
      if (code === '23503' && constraint === 'principal_roles_principal_id_fkey') {
        throw new UnknownPrincipalError(principalId);
      }
      throw error;
    }
  }

  async revokeRole(principalId: string, role: string): Promise<boolean> {
    if (!isUuid(principalId)) return false;
    const [, affected]: [unknown[], number] = await this.dataSource.query(
      `DELETE FROM principal_roles WHERE principal_id = $1 AND role = $2 RETURNING role`,
      [principalId, role],
    );
    return affected === 1;
  }

  async rolesOf(principalId: string): Promise<string[]> {
    if (!isUuid(principalId)) return [];
    const rows: Array<{ role: string }> = await this.dataSource.query(
      `SELECT role FROM principal_roles WHERE principal_id = $1`,
      [principalId],
    );
    return rows.map((row) => row.role).sort();
  }

  async accessOf(principalId: string): Promise<PrincipalAccess | null> {
    if (!isUuid(principalId)) return null;
    // One round trip: it runs on every cache miss of authentication.
    const rows: Array<PrincipalRow & { roles: string[]; permissions: string[] }> = await this.dataSource.query(
      `SELECT ${PRINCIPAL_COLUMNS.replace(/(\w+)/g, 'p.$1')},
              COALESCE(array_agg(DISTINCT pr.role) FILTER (WHERE pr.role IS NOT NULL), '{}')::text[] AS roles,
              COALESCE(array_agg(DISTINCT rp.permission) FILTER (WHERE rp.permission IS NOT NULL), '{}')::text[]
                AS permissions
       FROM principals p
       LEFT JOIN principal_roles pr ON pr.principal_id = p.id
       LEFT JOIN role_permissions rp ON rp.role = pr.role
       WHERE p.id = $1
       GROUP BY p.id`,
      [principalId],
    );
    const row = rows[0];
    if (!row) return null;
    // Sorted here rather than in SQL so every adapter sorts alike, whatever the database collation.
    return { principal: toPrincipal(row), roles: row.roles.sort(), permissions: row.permissions.sort() };
  }
}

function toPrincipal(row: PrincipalRow): PrincipalRecord {
  return {
    id: row.id,
    kind: row.kind,
    username: row.username,
    email: row.email,
    passwordHash: row.password_hash,
    attributes: row.attributes,
    createdAt: new Date(row.created_at),
    disabledAt: row.disabled_at && new Date(row.disabled_at),
  };
}

/** The `pg` error under TypeORM's `QueryFailedError`. */
function driverErrorOf(error: unknown): { code?: string; constraint?: string } {
  const driverError = (error as { driverError?: unknown } | null)?.driverError ?? error;
  return (driverError ?? {}) as { code?: string; constraint?: string };
}
