import { durationOption as duration, knownKeys, failConfig as fail } from '../options/option-checks.js';

/** How failed logins back off per (account, IP): see `core/login-backoff.ts`. */
export interface LoginBackoffOptions {
  /** The first wait once `after` failures are reached, a duration (default `1s`). */
  readonly base?: string;
  /** The longest wait, a duration (default `15m`). */
  readonly max?: string;
  /** Failures of one username from one IP before the first wait (default 3). */
  readonly after?: number;
}

/** Login sessions (`Authorization: Bearer sess_…`). On by default. */
export interface SessionOptions {
  /** A session unused this long ends, a duration (default `30m`). */
  readonly idleTimeout?: string;
  /** A session ends this long after its login whatever its use, a duration (default `12h`). */
  readonly absoluteTimeout?: string;
  /** Most active sessions of one principal; a new login ends the oldest beyond it. Unset: no limit. */
  readonly maxPerPrincipal?: number;
  /** Backoff of failed logins per (username, client IP); `false` switches it off (not advised). */
  readonly loginBackoff?: LoginBackoffOptions | false;
}

/** `sessions.loginBackoff` after parsing. */
export interface ResolvedLoginBackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly after: number;
}

/** `sessions` after parsing. */
export interface ResolvedSessionOptions {
  readonly idleTimeoutMs: number;
  readonly absoluteTimeoutMs: number;
  /** `false`: no limit. */
  readonly maxPerPrincipal: number | false;
  readonly loginBackoff: ResolvedLoginBackoffOptions | false;
}

/** Defaults of `sessions`. */
export const SESSION_DEFAULTS = Object.freeze({
  idleTimeout: '30m',
  absoluteTimeout: '12h',
  loginBackoff: Object.freeze({ base: '1s', max: '15m', after: 3 }),
});

const KEYS = ['idleTimeout', 'absoluteTimeout', 'maxPerPrincipal', 'loginBackoff'];
const BACKOFF_KEYS = ['base', 'max', 'after'];
// A session token is a bearer credential: past a month, a stolen one would stay usable far too long.
const MAX_ABSOLUTE_MS = 30 * 86_400_000;

type Raw = Record<string, unknown>;

/**
 * Checks and parses `sessions`: `false` switches sessions off, `undefined` or `true` gives the defaults.
 * Pure. Throws `SecurityConfigError` naming the option and the fix.
 * @example resolveSessionOptions({ idleTimeout: '15m' }, { production: true, warnings: [] }).idleTimeoutMs // 900_000
 */
export function resolveSessionOptions(
  value: unknown,
  context: { readonly production: boolean; readonly warnings: string[] },
): ResolvedSessionOptions | false {
  if (value === false) return false;
  const raw: Raw = value === undefined || value === true ? {} : (value as Raw);
  if (!isRecord(raw))
    fail('TYPE', 'sessions', 'use { idleTimeout, absoluteTimeout, … }, true for the defaults, or false');
  knownKeys(raw, 'sessions', KEYS);
  const idleTimeoutMs = duration(raw.idleTimeout ?? SESSION_DEFAULTS.idleTimeout, 'sessions.idleTimeout');
  const absoluteTimeoutMs = duration(
    raw.absoluteTimeout ?? SESSION_DEFAULTS.absoluteTimeout,
    'sessions.absoluteTimeout',
  );
  if (absoluteTimeoutMs > MAX_ABSOLUTE_MS) {
    fail('INVALID_VALUE', 'sessions.absoluteTimeout', 'at most 30d: a stolen token would stay usable that long');
  }
  if (idleTimeoutMs > absoluteTimeoutMs) {
    fail(
      'INVALID_VALUE',
      'sessions.idleTimeout',
      `is longer than sessions.absoluteTimeout; use an idle timeout of at most ${(raw.absoluteTimeout as string | undefined) ?? SESSION_DEFAULTS.absoluteTimeout}`,
    );
  }
  const max = raw.maxPerPrincipal;
  if (max !== undefined && (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 1_000)) {
    fail(
      'INVALID_VALUE',
      'sessions.maxPerPrincipal',
      'use a whole number from 1 to 1000, or leave it out for no limit',
    );
  }
  return {
    idleTimeoutMs,
    absoluteTimeoutMs,
    maxPerPrincipal: max === undefined ? false : (max as number),
    loginBackoff: resolveBackoff(raw.loginBackoff, context),
  };
}

function resolveBackoff(
  value: unknown,
  context: { readonly production: boolean; readonly warnings: string[] },
): ResolvedLoginBackoffOptions | false {
  if (value === false) {
    context.warnings.push(
      'sessions.loginBackoff: off, so passwords can be guessed as fast as the login rate limit allows',
    );
    return false;
  }
  const raw: Raw = value === undefined || value === true ? {} : (value as Raw);
  if (!isRecord(raw)) fail('TYPE', 'sessions.loginBackoff', "use { base: '1s', max: '15m', after: 3 } or false");
  knownKeys(raw, 'sessions.loginBackoff', BACKOFF_KEYS);
  const d = SESSION_DEFAULTS.loginBackoff;
  const baseMs = duration(raw.base ?? d.base, 'sessions.loginBackoff.base');
  const maxMs = duration(raw.max ?? d.max, 'sessions.loginBackoff.max');
  if (maxMs < baseMs) fail('INVALID_VALUE', 'sessions.loginBackoff.max', 'must be at least sessions.loginBackoff.base');
  if (maxMs > 86_400_000) {
    fail('INVALID_VALUE', 'sessions.loginBackoff.max', 'at most 1d: a longer wait locks the owner out from that IP');
  }
  const after = raw.after ?? d.after;
  if (typeof after !== 'number' || !Number.isInteger(after) || after < 1 || after > 100) {
    fail('INVALID_VALUE', 'sessions.loginBackoff.after', 'use a whole number of failures from 1 to 100');
  }
  return { baseMs, maxMs, after: after as number };
}

function isRecord(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
