/** What a session's timestamps say about it at a given instant. */
export type SessionState = 'active' | 'ended' | 'expired_idle' | 'expired_absolute';

/** The timestamps `sessionStateAt` reads. */
export interface SessionTimes {
  readonly expiresAt: Date;
  readonly idleExpiresAt: Date;
  readonly endedAt: Date | null;
}

/**
 * Whether a session can be used at `now` (ms since the epoch): `ended` once ended, else
 * `expired_absolute` from `expiresAt` on (the login's hard limit wins when both have passed), else
 * `expired_idle` from `idleExpiresAt` on (last activity + idle timeout), else `active`.
 * @example sessionStateAt({ expiresAt, idleExpiresAt, endedAt: null }, clock.now()) // 'active'
 */
export function sessionStateAt(session: SessionTimes, now: number): SessionState {
  if (session.endedAt !== null) return 'ended';
  if (now >= session.expiresAt.getTime()) return 'expired_absolute';
  if (now >= session.idleExpiresAt.getTime()) return 'expired_idle';
  return 'active';
}

/**
 * The idle deadline after activity at `now`: `now + idleMs`, never past the absolute expiry.
 * @example idleDeadline(now, 30 * 60_000, session.expiresAt)
 */
export function idleDeadline(now: number, idleMs: number, expiresAt: Date): Date {
  return new Date(Math.min(now + idleMs, expiresAt.getTime()));
}

/** Longest time between two writes of `last_seen_at` for one session (whatever the idle timeout). */
export const MAX_TOUCH_INTERVAL_MS = 60_000;

/**
 * How stale `last_seen_at` may get before a request writes it again: a tenth of the idle timeout, at most a
 * minute, so a session used steadily never idles out while most requests write nothing.
 */
export function touchIntervalMs(idleMs: number): number {
  return Math.max(1, Math.min(MAX_TOUCH_INTERVAL_MS, Math.floor(idleMs / 10)));
}

/** Whether a request at `now` should write `last_seen_at` (and so push the idle deadline back). */
export function shouldTouch(lastSeenAt: Date, now: number, intervalMs: number): boolean {
  return now - lastSeenAt.getTime() >= intervalMs;
}
