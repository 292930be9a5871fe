import { SecurityError } from '../core/errors.js';

/**
 * Why a session ended: `logout`; `expired_idle` and `expired_absolute` (noticed on use); `ended_by_owner`
 * (`DELETE /sessions/:id`) and `ended_by_admin`; `password_changed` (every other session of the principal);
 * `rotated` (replaced by a new token on a privilege change); `principal_disabled`; `session_limit` (the
 * oldest beyond `maxPerPrincipal`).
 */
export type SessionEndReason =
  | 'logout'
  | 'expired_idle'
  | 'expired_absolute'
  | 'ended_by_admin'
  | 'ended_by_owner'
  | 'password_changed'
  | 'rotated'
  | 'principal_disabled'
  | 'session_limit';

/** Every `SessionEndReason`, for validation. */
export const SESSION_END_REASONS: readonly SessionEndReason[] = Object.freeze([
  'logout',
  'expired_idle',
  'expired_absolute',
  'ended_by_admin',
  'ended_by_owner',
  'password_changed',
  'rotated',
  'principal_disabled',
  'session_limit',
]);

/** A stored login session. The token itself is never stored, only its hash. */
export interface SessionRecord {
  id: string;
  principalId: string;
  /** HMAC-SHA256 (API key pepper) or SHA-256 of the token, lower-case hex. */
  tokenHash: string;
  createdAt: Date;
  lastSeenAt: Date;
  /** The absolute expiry, fixed at login and kept by rotations. */
  expiresAt: Date;
  /** `lastSeenAt` + the idle timeout (never past `expiresAt`), moved by each write of `lastSeenAt`. */
  idleExpiresAt: Date;
  endedAt: Date | null;
  endReason: SessionEndReason | null;
  /** When a second factor was last proved in this session (kept across rotations). */
  mfaAt: Date | null;
  ip: string | null;
  userAgent: string | null;
}

/** What `SessionStore.create` takes. */
export interface NewSession {
  id: string;
  principalId: string;
  tokenHash: string;
  createdAt: Date;
  expiresAt: Date;
  idleExpiresAt: Date;
  mfaAt?: Date | null;
  ip?: string | null;
  userAgent?: string | null;
}

/** What replaces a session in `SessionStore.rotate`: the new row's id, token hash and request. */
export interface SessionReplacement {
  id: string;
  tokenHash: string;
  at: Date;
  idleExpiresAt: Date;
  ip?: string | null;
  userAgent?: string | null;
}

/** Where a page of `listActive` starts: after this session in newest-first order. */
export interface SessionCursor {
  createdAt: Date;
  id: string;
}

/** `SessionStore.create` was given a token hash another session already has. */
export class SessionTokenTakenError extends SecurityError {
  override readonly code = 'ERR_SECURITY_SESSION_TOKEN_TAKEN';
  constructor() {
    super('A session with this token hash already exists');
  }
}

/** Longest `user_agent` kept. */
export const SESSION_USER_AGENT_MAX_LENGTH = 512;
/** Longest `ip` kept. */
export const SESSION_IP_MAX_LENGTH = 64;

/**
 * The port of session persistence, and its DI token. "Active at `now`" means not ended, `expiresAt` and
 * `idleExpiresAt` both after `now`. Every mutation is one atomic operation and says what it changed;
 * adapters pass `describeSessionStoreContract`.
 */
export abstract class SessionStore {
  /** Which adapter this is, for the boot log. */
  abstract readonly kind: string;

  /**
   * Stores a new session (`lastSeenAt` = `createdAt`). Throws `UnknownPrincipalError`
   * (`ERR_SECURITY_UNKNOWN_PRINCIPAL`) when the principal does not exist and `SessionTokenTakenError` for a
   * duplicate token hash.
   */
  abstract create(session: NewSession): Promise<SessionRecord>;

  /** The session, ended or not; null when unknown or when `id` is not a uuid. */
  abstract findById(id: string): Promise<SessionRecord | null>;

  /** The session whose token has this hash, ended or not; null when there is none. */
  abstract findByTokenHash(tokenHash: string): Promise<SessionRecord | null>;

  /** Active sessions of a principal at `now`, newest first (`createdAt`, then id, descending), at most `limit`. */
  abstract listActive(
    principalId: string,
    now: Date,
    page: { limit: number; after?: SessionCursor },
  ): Promise<SessionRecord[]>;

  /**
   * Records activity: sets `lastSeenAt` to `at` and `idleExpiresAt`, only when the session is active at `at`
   * and `lastSeenAt` is older. False when nothing changed.
   */
  abstract touch(id: string, at: Date, idleExpiresAt: Date): Promise<boolean>;

  /** Ends a session not ended yet (active or merely expired); returns it as ended, or null when unknown or already ended. */
  abstract end(id: string, at: Date, reason: SessionEndReason): Promise<SessionRecord | null>;

  /** Ends every session of the principal active at `at` but `exceptId`; returns the ids it ended, sorted. */
  abstract endAllOf(principalId: string, at: Date, reason: SessionEndReason, exceptId?: string): Promise<string[]>;

  /**
   * Ends the principal's active sessions beyond the `keep` newest (`createdAt`, then id); returns the ids it
   * ended, sorted.
   */
  abstract endOldest(principalId: string, keep: number, at: Date, reason: SessionEndReason): Promise<string[]>;

  /**
   * Replaces an active session, atomically: ends it with reason `rotated` and creates `replacement` with the
   * same principal, absolute expiry and `mfaAt`. Returns the new session, or null (nothing changed) when the
   * old one is unknown or not active at `replacement.at`.
   */
  abstract rotate(id: string, replacement: SessionReplacement): Promise<SessionRecord | null>;

  /** Sets `mfaAt` of an active session (never moving it back); false when the session is not active at `at`. */
  abstract recordSecondFactor(id: string, at: Date): Promise<boolean>;

  /** Deletes sessions that ended or expired before `before`; returns how many. */
  abstract purge(before: Date): Promise<number>;
}
