import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Actor } from '../audit/actor.js';
import { SecurityEvents } from '../audit/security-events.service.js';
import { SecurityChangeBus } from '../changes/security-change.bus.js';
import { Clock } from '../core/clock.js';
import { constantTimeEqualHex } from '../core/constant-time.js';
import { parseLimit } from '../core/durations.js';
import { InvalidCredentialsError, SecurityOperationError, SecurityStoreUnavailableError } from '../core/errors.js';
import { summarizeRequest, type HttpRequestLike, type RequestSummary } from '../http/http-request.js';
import { API_KEY_PEPPER_RING } from '../keys/api-key.verifier.js';
import { hashSecret, type PepperRing } from '../keys/core/secret-hashing.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import type { Principal } from '../principals/principal.js';
import { isUuid, PrincipalStore, type PrincipalAccess } from '../principals/principal.store.js';
import { resolveClientIp } from '../rate-limit/core/client-ip.js';
import { SECURITY_OPTIONS } from '../security.constants.js';
import { idleDeadline, sessionStateAt, shouldTouch, touchIntervalMs } from './core/session-expiry.js';
import { generateSessionToken, isSessionToken } from './core/session-token.js';
import { SessionCache, type CachedSession } from './session-cache.js';
import type { ResolvedSessionOptions } from './session-options.js';
import {
  SESSION_IP_MAX_LENGTH,
  SESSION_USER_AGENT_MAX_LENGTH,
  SessionStore,
  type SessionEndReason,
  type SessionRecord,
} from './session.store.js';

/** A session just issued: the token is in this object only (the store keeps its hash). */
export interface IssuedSession {
  readonly id: string;
  readonly principalId: string;
  /** `sess_…`, sent as `Authorization: Bearer sess_…`. */
  readonly token: string;
  /** The absolute expiry (the idle timeout may end it sooner). */
  readonly expiresAt: Date;
}

/** A session as its owner sees it in a list: never its token or hash. */
export interface SessionView {
  readonly id: string;
  readonly createdAt: string;
  readonly lastSeenAt: string;
  readonly expiresAt: string;
  readonly idleExpiresAt: string;
  readonly ip: string | null;
  readonly userAgent: string | null;
  /** The session that made this request. */
  readonly current: boolean;
}

/** A session that authenticated a request, with the principal it stands for. */
export interface AuthenticatedSession {
  readonly session: SessionRecord;
  readonly principal: Principal;
}

/** Who ends or rotates a session, for the events (absent: the library itself, e.g. on expiry). */
export type SessionActor = Partial<Actor>;

const CACHE_TTL_MS = 30_000;
const PURGE_INTERVAL_MS = 3_600_000;
// Rows are kept a day after they are over: enough to answer "why was I logged out", small enough to stay small.
const PURGE_AFTER_MS = 86_400_000;
const PAGE_DEFAULT = 50;
const PAGE_MAX = 100;

/**
 * Login sessions: random `sess_` tokens (256 bits) stored only as a hash (HMAC-SHA256 with the API key
 * pepper, or SHA-256 without one), idle and absolute expiry, `last_seen_at` written at most every
 * `touchIntervalMs` per session, rotation on privilege changes, and the second factor's time for step-up.
 * Authentication reads a bounded cache that change broadcasts clear on every instance, so an ended session is
 * refused everywhere within the broadcast delay. Every creation and end is a `SESSION_CREATED` or
 * `SESSION_ENDED` event.
 */
@Injectable()
export class Sessions implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Security');
  private readonly settings: ResolvedSessionOptions | false;
  private readonly cache: SessionCache;
  private readonly touchEveryMs: number;
  private purgeTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(SECURITY_OPTIONS) private readonly options: ResolvedSecurityOptions,
    private readonly store: SessionStore,
    private readonly principals: PrincipalStore,
    @Inject(API_KEY_PEPPER_RING) private readonly pepper: PepperRing,
    private readonly bus: SecurityChangeBus,
    private readonly events: SecurityEvents,
    private readonly clock: Clock,
  ) {
    this.settings = options.sessions;
    this.cache = new SessionCache({ bus, ttlMs: CACHE_TTL_MS });
    this.touchEveryMs = this.settings ? touchIntervalMs(this.settings.idleTimeoutMs) : 60_000;
  }

  /** Whether sessions are on (`sessions` is not `false`). */
  get enabled(): boolean {
    return this.settings !== false;
  }

  /**
   * Opens a session for the principal (after its password was checked): a new random token, never one the
   * client proposed. With `maxPerPrincipal`, the oldest sessions beyond it end (`session_limit`).
   */
  async create(principalId: string, request?: HttpRequestLike): Promise<IssuedSession> {
    const settings = this.requireEnabled();
    const access = await this.principals.accessOf(principalId);
    if (!access) {
      throw new SecurityOperationError('ERR_SECURITY_UNKNOWN_PRINCIPAL', 'No such principal', 'not_found');
    }
    if (access.principal.disabledAt) {
      throw new SecurityOperationError('ERR_SECURITY_PRINCIPAL_DISABLED', 'The principal is disabled', 'conflict');
    }
    const now = this.clock.now();
    const token = generateSessionToken();
    const expiresAt = new Date(now + settings.absoluteTimeoutMs);
    const { ip, userAgent } = this.clientOf(request);
    const created = await this.store.create({
      id: randomUUID(),
      principalId: access.principal.id,
      tokenHash: hashSecret(token, this.pepper),
      createdAt: new Date(now),
      expiresAt,
      idleExpiresAt: idleDeadline(now, settings.idleTimeoutMs, expiresAt),
      ip,
      userAgent,
    });
    const summary = request ? summarizeRequest(request) : undefined;
    await this.record('SESSION_CREATED', created, summary, { expiresAt: expiresAt.toISOString(), via: 'login' });
    if (settings.maxPerPrincipal !== false) {
      const ended = await this.store.endOldest(
        created.principalId,
        settings.maxPerPrincipal,
        new Date(now),
        'session_limit',
      );
      await this.ended(ended, created.principalId, 'session_limit', { request: summary });
    }
    return { id: created.id, principalId: created.principalId, token, expiresAt };
  }

  /**
   * Checks a `sess_` token: shape first (no I/O for garbage), then the session by the hash of the token
   * (the hash is compared again in constant time), its absolute and idle expiry, and its principal. Writes
   * `last_seen_at` when it is older than the touch interval. Throws `InvalidCredentialsError` (`malformed`,
   * `unknown`, `expired`, `revoked`, `principal_disabled`); an expired session is ended on the way (its
   * `SESSION_ENDED` event names `request`).
   */
  async authenticate(token: string, request?: HttpRequestLike): Promise<AuthenticatedSession> {
    if (!this.settings) throw new InvalidCredentialsError('scheme_unsupported', { scheme: 'session' });
    if (!isSessionToken(token)) throw new InvalidCredentialsError('malformed', { scheme: 'session' });
    let found = await this.lookUp(token);
    if (!found) throw new InvalidCredentialsError('unknown', { scheme: 'session' });
    const now = this.clock.now();
    let state = sessionStateAt(found.entry.session, now);
    // Another instance may have moved last_seen_at since this one cached the row: ask the store before refusing.
    if (state === 'expired_idle' && found.cached) {
      this.cache.forgetSession(found.entry.session.id);
      found = await this.lookUp(token);
      if (!found) throw new InvalidCredentialsError('unknown', { scheme: 'session' });
      state = sessionStateAt(found.entry.session, now);
    }
    const { session, principal } = found.entry;
    const context = { scheme: 'session', sessionId: session.id };
    if (state === 'ended') throw new InvalidCredentialsError('revoked', { ...context, endReason: session.endReason });
    const actor = request ? { request: summarizeRequest(request) } : {};
    if (state !== 'active') {
      await this.endOne(session.id, state, actor);
      throw new InvalidCredentialsError('expired', { ...context, expiry: state });
    }
    if (found.entry.disabled) {
      await this.endOne(session.id, 'principal_disabled', actor);
      throw new InvalidCredentialsError('principal_disabled', context);
    }
    if (shouldTouch(session.lastSeenAt, now, this.touchEveryMs)) await this.touch(session, now);
    return { session, principal };
  }

  /** The session, ended or not; null when unknown. */
  find(sessionId: string): Promise<SessionRecord | null> {
    return this.store.findById(sessionId);
  }

  /** Ends one session; false when it was unknown or already ended. */
  async end(sessionId: string, reason: SessionEndReason, actor: SessionActor = {}): Promise<boolean> {
    return (await this.endOne(sessionId, reason, actor)) !== null;
  }

  /**
   * Ends a session of `ownerId` that is still active; false (and nothing ended) when the session is unknown,
   * belongs to someone else or is over, so a caller cannot tell another principal's session from none.
   */
  async endOwn(
    ownerId: string,
    sessionId: string,
    reason: SessionEndReason,
    actor: SessionActor = {},
  ): Promise<boolean> {
    const session = await this.store.findById(sessionId);
    if (!session || session.principalId !== ownerId.toLowerCase()) return false;
    if (sessionStateAt(session, this.clock.now()) !== 'active') return false;
    return this.end(session.id, reason, actor);
  }

  /** Ends every active session of the principal but `exceptId`; returns the ids ended. */
  async endAllFor(
    principalId: string,
    { reason, exceptId, actor = {} }: { reason: SessionEndReason; exceptId?: string; actor?: SessionActor },
  ): Promise<string[]> {
    if (!isUuid(principalId)) return [];
    const ended = await this.store.endAllOf(principalId, new Date(this.clock.now()), reason, exceptId);
    await this.ended(ended, principalId.toLowerCase(), reason, actor);
    return ended;
  }

  /**
   * The principal's active sessions, newest first, a page at a time (`limit` 1 to 100, default 50;
   * `cursor` from the previous page's `nextCursor`). `currentSessionId` marks the caller's own.
   */
  async list(
    principalId: string,
    {
      limit = PAGE_DEFAULT,
      cursor,
      currentSessionId,
    }: { limit?: number; cursor?: string; currentSessionId?: string } = {},
  ): Promise<{ items: SessionView[]; nextCursor: string | null }> {
    const size = Math.min(PAGE_MAX, Math.max(1, Math.floor(limit)));
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = await this.store.listActive(principalId, new Date(this.clock.now()), { limit: size + 1, after });
    const page = rows.slice(0, size);
    const last = page.at(-1);
    return {
      items: page.map((session) => viewOf(session, currentSessionId)),
      nextCursor: rows.length > size && last ? encodeCursor(last) : null,
    };
  }

  /**
   * Replaces an active session by a new one with a new token (a privilege change: password, roles), keeping
   * its principal, absolute expiry and second-factor time; the old token stops working at once, on every
   * instance. Throws `ERR_SECURITY_SESSION_NOT_ACTIVE` (409) when the session is over.
   */
  async rotate(
    sessionId: string,
    {
      request,
      cause = 'privilege_change',
      actor = {},
    }: { request?: HttpRequestLike; cause?: string; actor?: SessionActor } = {},
  ): Promise<IssuedSession> {
    const settings = this.requireEnabled();
    const now = this.clock.now();
    const token = generateSessionToken();
    const { ip, userAgent } = this.clientOf(request);
    const replaced = await this.store.rotate(sessionId, {
      id: randomUUID(),
      tokenHash: hashSecret(token, this.pepper),
      at: new Date(now),
      idleExpiresAt: new Date(now + settings.idleTimeoutMs),
      ip,
      userAgent,
    });
    if (!replaced) {
      throw new SecurityOperationError('ERR_SECURITY_SESSION_NOT_ACTIVE', 'The session is not active', 'conflict');
    }
    this.cache.forgetSession(sessionId);
    await this.bus.announce({ kind: 'session', id: sessionId });
    const summary = actor.request ?? (request ? summarizeRequest(request) : undefined);
    await this.events.record({
      type: 'SESSION_ENDED',
      outcome: 'success',
      principalId: actor.principalId ?? replaced.principalId,
      request: summary,
      actor: actor.label,
      details: { sessionId, ownerId: replaced.principalId, reason: 'rotated', cause, rotatedTo: replaced.id },
    });
    await this.record('SESSION_CREATED', replaced, summary, {
      expiresAt: replaced.expiresAt.toISOString(),
      via: 'rotation',
      cause,
      rotatedFrom: sessionId,
    });
    return { id: replaced.id, principalId: replaced.principalId, token, expiresAt: replaced.expiresAt };
  }

  /**
   * Records that the session's user proved a second factor at `at` (default now): `principal.mfaAt` of the
   * next requests, on every instance, for `@RequireMfa()`. Kept by rotations. False when the session is
   * not active.
   */
  async recordSecondFactor(sessionId: string, at: Date = new Date(this.clock.now())): Promise<boolean> {
    const recorded = await this.store.recordSecondFactor(sessionId, at);
    if (recorded) {
      this.cache.forgetSession(sessionId);
      await this.bus.announce({ kind: 'session', id: sessionId });
    }
    return recorded;
  }

  onApplicationBootstrap(): void {
    if (!this.settings) return;
    const { idleTimeoutMs, absoluteTimeoutMs, maxPerPrincipal, loginBackoff } = this.settings;
    this.logger.log(
      `sessions: ${this.store.kind}, idle ${idleTimeoutMs / 1000}s, absolute ${absoluteTimeoutMs / 1000}s, ` +
        `at most ${maxPerPrincipal === false ? 'unlimited' : maxPerPrincipal} per principal; login backoff: ` +
        (loginBackoff
          ? `after ${loginBackoff.after} failures, ${loginBackoff.baseMs / 1000}s doubling to ${loginBackoff.maxMs / 1000}s`
          : 'off'),
    );
    this.purgeTimer = setInterval(() => void this.purge(), PURGE_INTERVAL_MS);
    this.purgeTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.purgeTimer);
    this.cache.close();
  }

  /** Deletes the rows of sessions over for more than a day; returns how many (also run hourly). */
  async purge(): Promise<number> {
    try {
      return await this.store.purge(new Date(this.clock.now() - PURGE_AFTER_MS));
    } catch (error) {
      this.logger.warn(`sessions: purge failed: ${error instanceof Error ? error.message : String(error)}`);
      return 0;
    }
  }

  private requireEnabled(): ResolvedSessionOptions {
    if (!this.settings) {
      throw new SecurityOperationError(
        'ERR_SECURITY_SESSIONS_OFF',
        'Sessions are switched off (sessions: false)',
        'conflict',
      );
    }
    return this.settings;
  }

  // Every version of the pepper ring is tried, so a pepper rotation does not log everybody out.
  private async lookUp(token: string): Promise<{ entry: CachedSession; cached: boolean } | undefined> {
    const hashes = this.pepper.versions.map((version) => hashSecret(token, this.pepper, version));
    for (const hash of hashes) {
      const cached = this.cache.get(hash);
      if (cached && constantTimeEqualHex(cached.session.tokenHash, hash)) return { entry: cached, cached: true };
    }
    for (const hash of hashes) {
      if (this.cache.isUnknown(hash)) continue;
      const entry = await this.load(hash);
      if (entry && constantTimeEqualHex(entry.session.tokenHash, hash)) return { entry, cached: false };
    }
    return undefined;
  }

  // A store that cannot answer is a 503 (deny, retry later), never a 500 and never an accepted token.
  private async load(tokenHash: string): Promise<CachedSession | undefined> {
    try {
      return await this.cache.load(
        tokenHash,
        async () => {
          const session = await this.store.findByTokenHash(tokenHash);
          if (!session) return null;
          const access = await this.principals.accessOf(session.principalId);
          return access ? entryOf(session, access) : undefined;
        },
        (entry) => entry.session.expiresAt.getTime() - this.clock.now(),
      );
    } catch (error) {
      throw new SecurityStoreUnavailableError('session', 2, { cause: error });
    }
  }

  private async touch(session: SessionRecord, now: number): Promise<void> {
    const settings = this.settings as ResolvedSessionOptions;
    const idleExpiresAt = idleDeadline(now, settings.idleTimeoutMs, session.expiresAt);
    // Best effort: a failed write costs at most an earlier idle expiry, never a refused request.
    const touched = await this.store.touch(session.id, new Date(now), idleExpiresAt).catch(() => false);
    if (touched) {
      // The cached row is this instance's own copy; other instances re-read before refusing on idle.
      session.lastSeenAt = new Date(now);
      session.idleExpiresAt = idleExpiresAt;
    }
  }

  private async endOne(
    sessionId: string,
    reason: SessionEndReason,
    actor: SessionActor,
  ): Promise<SessionRecord | null> {
    const ended = await this.store.end(sessionId, new Date(this.clock.now()), reason);
    if (!ended) return null;
    this.cache.forgetSession(ended.id);
    await this.bus.announce({ kind: 'session', id: ended.id });
    await this.events.record({
      type: 'SESSION_ENDED',
      outcome: 'success',
      principalId: actor.principalId ?? ended.principalId,
      request: actor.request,
      actor: actor.label,
      details: { sessionId: ended.id, ownerId: ended.principalId, reason },
    });
    return ended;
  }

  private async ended(
    sessionIds: readonly string[],
    ownerId: string,
    reason: SessionEndReason,
    actor: SessionActor,
  ): Promise<void> {
    for (const sessionId of sessionIds) {
      this.cache.forgetSession(sessionId);
      await this.bus.announce({ kind: 'session', id: sessionId });
      await this.events.record({
        type: 'SESSION_ENDED',
        outcome: 'success',
        principalId: actor.principalId ?? ownerId,
        request: actor.request,
        actor: actor.label,
        details: { sessionId, ownerId, reason },
      });
    }
  }

  private async record(
    type: 'SESSION_CREATED',
    session: SessionRecord,
    request: RequestSummary | undefined,
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.events.record({
      type,
      outcome: 'success',
      principalId: session.principalId,
      request,
      details: { sessionId: session.id, ...details },
    });
  }

  private clientOf(request: HttpRequestLike | undefined): { ip: string | null; userAgent: string | null } {
    if (!request) return { ip: null, userAgent: null };
    const ip = resolveClientIp({
      remoteAddress: request.socket?.remoteAddress ?? request.raw?.socket?.remoteAddress,
      forwardedFor: request.headers['x-forwarded-for'],
      trustProxy: this.options.trustProxy,
    });
    const userAgent = request.headers['user-agent'];
    return {
      ip: ip.slice(0, SESSION_IP_MAX_LENGTH),
      userAgent: typeof userAgent === 'string' ? userAgent.slice(0, SESSION_USER_AGENT_MAX_LENGTH) : null,
    };
  }
}

function entryOf(session: SessionRecord, access: PrincipalAccess): CachedSession {
  const { principal } = access;
  const rateLimit = principal.attributes?.rateLimit;
  return {
    session,
    disabled: principal.disabledAt !== null,
    principal: Object.freeze({
      id: principal.id,
      kind: principal.kind,
      roles: Object.freeze([...access.roles]),
      // A session is the user: all the permissions of its roles, no scopes.
      permissions: Object.freeze([...access.permissions]),
      attributes: principal.attributes,
      authMethod: 'session',
      sessionId: session.id,
      createdAt: principal.createdAt,
      ...(session.mfaAt ? { mfaAt: new Date(session.mfaAt) } : {}),
      ...(typeof rateLimit === 'string' && parseLimit(rateLimit)
        ? { rateLimit: Object.freeze({ limit: rateLimit, per: 'principal' as const }) }
        : {}),
    }),
  };
}

function viewOf(session: SessionRecord, currentSessionId: string | undefined): SessionView {
  return {
    id: session.id,
    createdAt: session.createdAt.toISOString(),
    lastSeenAt: session.lastSeenAt.toISOString(),
    expiresAt: session.expiresAt.toISOString(),
    idleExpiresAt: session.idleExpiresAt.toISOString(),
    ip: session.ip,
    userAgent: session.userAgent,
    current: currentSessionId !== undefined && session.id === currentSessionId.toLowerCase(),
  };
}

function encodeCursor(session: SessionRecord): string {
  return Buffer.from(JSON.stringify([session.createdAt.getTime(), session.id])).toString('base64url');
}

const MAX_CURSOR_TIME = Date.UTC(9999, 11, 31);

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  let value: unknown;
  try {
    value = cursor.length <= 200 ? JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) : undefined;
  } catch {
    value = undefined;
  }
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    !Number.isSafeInteger(value[0]) ||
    // A time this API could have written (after 1970, before 10000): never an invalid Date, nor one
    // PostgreSQL cannot store.
    (value[0] as number) < 0 ||
    (value[0] as number) > MAX_CURSOR_TIME ||
    typeof value[1] !== 'string' ||
    !isUuid(value[1])
  ) {
    throw new SecurityOperationError(
      'ERR_SECURITY_INVALID_CURSOR',
      'The cursor is not one this API returned',
      'invalid',
    );
  }
  return { createdAt: new Date(value[0] as number), id: value[1] };
}
