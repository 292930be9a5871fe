import type { DataSource } from 'typeorm';
import { isUuid, UnknownPrincipalError } from '../../principals/principal.store.js';
import {
  SessionStore,
  SessionTokenTakenError,
  type NewSession,
  type SessionCursor,
  type SessionEndReason,
  type SessionRecord,
  type SessionReplacement,
} from '../session.store.js';

interface SessionRow {
  id: string;
  principal_id: string;
  token_hash: string;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  idle_expires_at: Date;
  ended_at: Date | null;
  end_reason: SessionEndReason | null;
  mfa_at: Date | null;
  ip: string | null;
  user_agent: string | null;
}

const COLUMNS =
  'id, principal_id, token_hash, created_at, last_seen_at, expires_at, idle_expires_at, ended_at, end_reason, mfa_at, ip, user_agent';
// Active at $2: the one definition every statement below shares.
const ACTIVE_AT_2 = 'ended_at IS NULL AND expires_at > $2 AND idle_expires_at > $2';

/**
 * Sessions in Postgres (`sessions`), with raw parameterised SQL: each operation is one statement, so it
 * is atomic without a transaction (a rotation ends the old row and inserts the new one in one statement)
 * and costs one round trip.
 */
export class TypeOrmSessionStore extends SessionStore {
  readonly kind = 'postgres';

  constructor(private readonly dataSource: DataSource) {
    super();
  }

  async create(session: NewSession): Promise<SessionRecord> {
    if (!isUuid(session.principalId)) throw new UnknownPrincipalError(session.principalId);
    try {
      const rows: SessionRow[] = await this.dataSource.query(
        `INSERT INTO sessions (id, principal_id, token_hash, created_at, last_seen_at, expires_at, idle_expires_at,
           mfa_at, ip, user_agent)
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9)
         RETURNING ${COLUMNS}`,
        [
          session.id,
          session.principalId,
          session.tokenHash,
          session.createdAt,
          session.expiresAt,
          session.idleExpiresAt,
          session.mfaAt ?? null,
          session.ip ?? null,
          session.userAgent ?? null,
        ],
      );
      return toRecord(rows[0]!);
    } catch (error) {
      throw translate(error, session.principalId);
    }
  }

  async findById(id: string): Promise<SessionRecord | null> {
    if (!isUuid(id)) return null;
    const rows: SessionRow[] = await this.dataSource.query(`SELECT ${COLUMNS} FROM sessions WHERE id = $1`, [id]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async findByTokenHash(tokenHash: string): Promise<SessionRecord | null> {
    const rows: SessionRow[] = await this.dataSource.query(`SELECT ${COLUMNS} FROM sessions WHERE token_hash = $1`, [
      tokenHash,
    ]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async listActive(
    principalId: string,
    now: Date,
    page: { limit: number; after?: SessionCursor },
  ): Promise<SessionRecord[]> {
    if (!isUuid(principalId)) return [];
    const after = page.after && isUuid(page.after.id) ? page.after : undefined;
    const rows: SessionRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM sessions
       WHERE principal_id = $1 AND ${ACTIVE_AT_2}
         AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
       ORDER BY created_at DESC, id DESC
       LIMIT $5`,
      [principalId, now, after?.createdAt ?? null, after?.id ?? null, page.limit],
    );
    return rows.map(toRecord);
  }

  async touch(id: string, at: Date, idleExpiresAt: Date): Promise<boolean> {
    if (!isUuid(id)) return false;
    const [, affected]: [unknown[], number] = await this.dataSource.query(
      `UPDATE sessions SET last_seen_at = $2, idle_expires_at = $3
       WHERE id = $1 AND ${ACTIVE_AT_2} AND last_seen_at < $2`,
      [id, at, idleExpiresAt],
    );
    return affected === 1;
  }

  async end(id: string, at: Date, reason: SessionEndReason): Promise<SessionRecord | null> {
    if (!isUuid(id)) return null;
    const [rows]: [SessionRow[], number] = await this.dataSource.query(
      `UPDATE sessions SET ended_at = $2, end_reason = $3 WHERE id = $1 AND ended_at IS NULL RETURNING ${COLUMNS}`,
      [id, at, reason],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async endAllOf(principalId: string, at: Date, reason: SessionEndReason, exceptId?: string): Promise<string[]> {
    if (!isUuid(principalId)) return [];
    const except = exceptId !== undefined && isUuid(exceptId) ? exceptId : null;
    const [rows]: [Array<{ id: string }>, number] = await this.dataSource.query(
      `UPDATE sessions SET ended_at = $2, end_reason = $3
       WHERE principal_id = $1 AND ${ACTIVE_AT_2} AND ($4::uuid IS NULL OR id <> $4::uuid)
       RETURNING id`,
      [principalId, at, reason, except],
    );
    return rows.map((row) => row.id).sort();
  }

  async endOldest(principalId: string, keep: number, at: Date, reason: SessionEndReason): Promise<string[]> {
    if (!isUuid(principalId)) return [];
    const [rows]: [Array<{ id: string }>, number] = await this.dataSource.query(
      `UPDATE sessions SET ended_at = $2, end_reason = $3
       WHERE id IN (
         SELECT id FROM sessions WHERE principal_id = $1 AND ${ACTIVE_AT_2}
         ORDER BY created_at DESC, id DESC OFFSET $4
       ) AND ${ACTIVE_AT_2}
       RETURNING id`,
      [principalId, at, reason, Math.max(0, keep)],
    );
    return rows.map((row) => row.id).sort();
  }

  async rotate(id: string, replacement: SessionReplacement): Promise<SessionRecord | null> {
    if (!isUuid(id)) return null;
    try {
      const rows: SessionRow[] = await this.dataSource.query(
        `WITH old AS (
           UPDATE sessions SET ended_at = $2, end_reason = 'rotated'
           WHERE id = $1 AND ${ACTIVE_AT_2}
           RETURNING principal_id, expires_at, mfa_at
         )
         INSERT INTO sessions (id, principal_id, token_hash, created_at, last_seen_at, expires_at, idle_expires_at,
           mfa_at, ip, user_agent)
         SELECT $3, principal_id, $4, $2, $2, expires_at, LEAST($5::timestamptz, expires_at), mfa_at, $6, $7 FROM old
         RETURNING ${COLUMNS}`,
        [
          id,
          replacement.at,
          replacement.id,
          replacement.tokenHash,
          replacement.idleExpiresAt,
          replacement.ip ?? null,
          replacement.userAgent ?? null,
        ],
      );
      return rows[0] ? toRecord(rows[0]) : null;
    } catch (error) {
      throw translate(error, '');
    }
  }

  async recordSecondFactor(id: string, at: Date): Promise<boolean> {
    if (!isUuid(id)) return false;
    const [, affected]: [unknown[], number] = await this.dataSource.query(
      `UPDATE sessions SET mfa_at = GREATEST(mfa_at, $2) WHERE id = $1 AND ${ACTIVE_AT_2}`,
      [id, at],
    );
    return affected === 1;
  }

  async purge(before: Date): Promise<number> {
    const [, affected]: [unknown[], number] = await this.dataSource.query(
      `DELETE FROM sessions WHERE LEAST(expires_at, idle_expires_at, COALESCE(ended_at, 'infinity')) < $1`,
      [before],
    );
    return affected;
  }
}

function toRecord(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    principalId: row.principal_id,
    tokenHash: row.token_hash,
    createdAt: new Date(row.created_at),
    lastSeenAt: new Date(row.last_seen_at),
    expiresAt: new Date(row.expires_at),
    idleExpiresAt: new Date(row.idle_expires_at),
    endedAt: row.ended_at && new Date(row.ended_at),
    endReason: row.end_reason,
    mfaAt: row.mfa_at && new Date(row.mfa_at),
    ip: row.ip,
    userAgent: row.user_agent,
  };
}

/** Maps the constraint violations callers can act on to coded errors; anything else is rethrown. */
function translate(error: unknown, principalId: string): unknown {
  const driverError = ((error as { driverError?: unknown } | null)?.driverError ?? error ?? {}) as {
    code?: string;
    constraint?: string;
  };
  if (driverError.code === '23505' && driverError.constraint === 'sessions_token_hash_key') {
    return new SessionTokenTakenError();
  }
  if (driverError.code === '23503' && driverError.constraint === 'sessions_principal_id_fkey') {
    return new UnknownPrincipalError(principalId);
  }
  return error;
}
