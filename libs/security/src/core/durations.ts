/** Duration and rate-limit grammar shared by every option: `30d`, `24h`, `1000/60s`. */

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration such as `30d`, `24h`, `500ms`. */
export const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)$/;
/** A limit such as `1000/60s`: at most 1000 in any 60 seconds. */
export const LIMIT_PATTERN = /^(\d+)\/(\d+)(ms|s|m|h|d)$/;

/** A parsed limit. */
export interface Limit {
  readonly limit: number;
  readonly windowMs: number;
}

/**
 * Parses a duration into milliseconds, or returns `undefined` when the text does not match the grammar.
 * `0` (with a unit) parses only when `allowZero` is set.
 * @example parseDuration('24h') // 86_400_000
 */
export function parseDuration(text: string, { allowZero = false } = {}): number | undefined {
  const match = DURATION_PATTERN.exec(text);
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (!Number.isSafeInteger(ms) || (ms === 0 && !allowZero)) return undefined;
  return ms;
}

/**
 * Parses a limit, or returns `undefined` when the text does not match the grammar or either number is 0.
 * @example parseLimit('5/300s') // { limit: 5, windowMs: 300_000 }
 */
export function parseLimit(text: string): Limit | undefined {
  const match = LIMIT_PATTERN.exec(text);
  if (!match) return undefined;
  const limit = Number(match[1]);
  const windowMs = Number(match[2]) * UNIT_MS[match[3] as keyof typeof UNIT_MS];
  if (!Number.isSafeInteger(limit) || limit === 0 || !Number.isSafeInteger(windowMs) || windowMs === 0) {
    return undefined;
  }
  return { limit, windowMs };
}

const UNIT_BYTES = { b: 1, kb: 1_024, mb: 1_048_576 } as const;

/** A size such as `100kb`, `2mb`, `512b` (1 kb = 1024 bytes). */
export const SIZE_PATTERN = /^(\d+)(b|kb|mb)$/;

/**
 * Parses a size into bytes, or returns `undefined` when the text does not match the grammar or is 0.
 * @example parseSize('100kb') // 102_400
 */
export function parseSize(text: string): number | undefined {
  const match = SIZE_PATTERN.exec(text);
  if (!match) return undefined;
  const bytes = Number(match[1]) * UNIT_BYTES[match[2] as keyof typeof UNIT_BYTES];
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}
