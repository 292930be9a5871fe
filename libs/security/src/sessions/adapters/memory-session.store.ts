import { isUuid, UnknownPrincipalError, type PrincipalStore } from '../../principals/principal.store.js';
import { sessionStateAt } from '../core/session-expiry.js';
import {
  SessionStore,
  SessionTokenTakenError,
  type NewSession,
  type SessionCursor,
  type SessionEndReason,
  type SessionRecord,
  type SessionReplacement,
} from '../session.store.js';

/**
 * Sessions in process memory, for tests and apps without a database (one instance only: another instance
 * would not know the tokens). Given a `PrincipalStore`, it refuses sessions of unknown principals as the
 * database's foreign key does. Nothing awaits inside a mutation, so each is atomic.
 */
export class MemorySessionStore extends SessionStore {
  readonly kind = 'memory';
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly byHash = new Map<string, string>();

  constructor(private readonly principals?: PrincipalStore) {
    super();
  }

  async create(session: NewSession): Promise<SessionRecord> {
    if (!isUuid(session.principalId)) throw new UnknownPrincipalError(session.principalId);
    if (this.principals && !(await this.principals.findById(session.principalId))) {
      throw new UnknownPrincipalError(session.principalId);
    }
    if (!isUuid(session.id)) throw new TypeError(`session id ${JSON.stringify(session.id)} is not a uuid`);
    if (this.byHash.has(session.tokenHash)) throw new SessionTokenTakenError();
    if (this.sessions.has(session.id.toLowerCase())) throw new TypeError(`session ${session.id} already exists`);
    const record: SessionRecord = {
      id: session.id.toLowerCase(),
      principalId: session.principalId.toLowerCase(),
      tokenHash: session.tokenHash,
      createdAt: new Date(session.createdAt),
      lastSeenAt: new Date(session.createdAt),
      expiresAt: new Date(session.expiresAt),
      idleExpiresAt: new Date(session.idleExpiresAt),
      endedAt: null,
      endReason: null,
      mfaAt: session.mfaAt ? new Date(session.mfaAt) : null,
      ip: session.ip ?? null,
      userAgent: session.userAgent ?? null,
    };
    this.sessions.set(record.id, record);
    this.byHash.set(record.tokenHash, record.id);
    return copy(record);
  }

  async findById(id: string): Promise<SessionRecord | null> {
    const record = isUuid(id) ? this.sessions.get(id.toLowerCase()) : undefined;
    return record ? copy(record) : null;
  }

  async findByTokenHash(tokenHash: string): Promise<SessionRecord | null> {
    const id = this.byHash.get(tokenHash);
    const record = id === undefined ? undefined : this.sessions.get(id);
    return record ? copy(record) : null;
  }

  async listActive(
    principalId: string,
    now: Date,
    page: { limit: number; after?: SessionCursor },
  ): Promise<SessionRecord[]> {
    return this.activeOf(principalId, now.getTime())
      .filter((record) => !page.after || newerFirst(record, page.after) > 0)
      .slice(0, page.limit)
      .map(copy);
  }

  async touch(id: string, at: Date, idleExpiresAt: Date): Promise<boolean> {
    const record = this.activeRecord(id, at.getTime());
    if (!record || record.lastSeenAt.getTime() >= at.getTime()) return false;
    record.lastSeenAt = new Date(at);
    record.idleExpiresAt = new Date(idleExpiresAt);
    return true;
  }

  async end(id: string, at: Date, reason: SessionEndReason): Promise<SessionRecord | null> {
    const record = isUuid(id) ? this.sessions.get(id.toLowerCase()) : undefined;
    if (!record || record.endedAt !== null) return null;
    record.endedAt = new Date(at);
    record.endReason = reason;
    return copy(record);
  }

  async endAllOf(principalId: string, at: Date, reason: SessionEndReason, exceptId?: string): Promise<string[]> {
    const except = exceptId?.toLowerCase();
    const ended: string[] = [];
    for (const record of this.activeOf(principalId, at.getTime())) {
      if (record.id === except) continue;
      record.endedAt = new Date(at);
      record.endReason = reason;
      ended.push(record.id);
    }
    return ended.sort();
  }

  async endOldest(principalId: string, keep: number, at: Date, reason: SessionEndReason): Promise<string[]> {
    const ended: string[] = [];
    for (const record of this.activeOf(principalId, at.getTime()).slice(Math.max(0, keep))) {
      record.endedAt = new Date(at);
      record.endReason = reason;
      ended.push(record.id);
    }
    return ended.sort();
  }

  async rotate(id: string, replacement: SessionReplacement): Promise<SessionRecord | null> {
    const old = this.activeRecord(id, replacement.at.getTime());
    if (!old) return null;
    if (this.byHash.has(replacement.tokenHash)) throw new SessionTokenTakenError();
    if (!isUuid(replacement.id) || this.sessions.has(replacement.id.toLowerCase())) {
      throw new TypeError(`session id ${JSON.stringify(replacement.id)} is not a new uuid`);
    }
    old.endedAt = new Date(replacement.at);
    old.endReason = 'rotated';
    const record: SessionRecord = {
      id: replacement.id.toLowerCase(),
      principalId: old.principalId,
      tokenHash: replacement.tokenHash,
      createdAt: new Date(replacement.at),
      lastSeenAt: new Date(replacement.at),
      expiresAt: new Date(old.expiresAt),
      idleExpiresAt: new Date(Math.min(replacement.idleExpiresAt.getTime(), old.expiresAt.getTime())),
      endedAt: null,
      endReason: null,
      mfaAt: old.mfaAt && new Date(old.mfaAt),
      ip: replacement.ip ?? null,
      userAgent: replacement.userAgent ?? null,
    };
    this.sessions.set(record.id, record);
    this.byHash.set(record.tokenHash, record.id);
    return copy(record);
  }

  async recordSecondFactor(id: string, at: Date): Promise<boolean> {
    const record = this.activeRecord(id, at.getTime());
    if (!record) return false;
    if (!record.mfaAt || record.mfaAt.getTime() < at.getTime()) record.mfaAt = new Date(at);
    return true;
  }

  async purge(before: Date): Promise<number> {
    let purged = 0;
    // Deleting the current entry while iterating a Map is safe.
    for (const record of this.sessions.values()) {
      const over = Math.min(
        record.expiresAt.getTime(),
        record.idleExpiresAt.getTime(),
        record.endedAt?.getTime() ?? Number.POSITIVE_INFINITY,
      );
      if (over >= before.getTime()) continue;
      this.sessions.delete(record.id);
      this.byHash.delete(record.tokenHash);
      purged++;
    }
    return purged;
  }

  private activeRecord(id: string, now: number): SessionRecord | undefined {
    const record = isUuid(id) ? this.sessions.get(id.toLowerCase()) : undefined;
    return record && sessionStateAt(record, now) === 'active' ? record : undefined;
  }

  // Newest first, as listActive and endOldest order them.
  private activeOf(principalId: string, now: number): SessionRecord[] {
    const owner = principalId.toLowerCase();
    return [...this.sessions.values()]
      .filter((record) => record.principalId === owner && sessionStateAt(record, now) === 'active')
      .sort((a, b) => newerFirst(a, b));
  }
}

// Negative when `a` comes first (newer), positive when it comes after `b`.
function newerFirst(a: SessionCursor, b: SessionCursor): number {
  return b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

function copy(record: SessionRecord): SessionRecord {
  return {
    ...record,
    createdAt: new Date(record.createdAt),
    lastSeenAt: new Date(record.lastSeenAt),
    expiresAt: new Date(record.expiresAt),
    idleExpiresAt: new Date(record.idleExpiresAt),
    endedAt: record.endedAt && new Date(record.endedAt),
    mfaAt: record.mfaAt && new Date(record.mfaAt),
  };
}
