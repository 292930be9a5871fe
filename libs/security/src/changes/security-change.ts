/** What a change is about; `all` (with id `*`) tells every instance to drop every cache. */
export type SecurityChangeKind = 'api-key' | 'principal' | 'role' | 'signing-key' | 'session' | 'all';

/** Every `SecurityChangeKind`, for validation. */
export const SECURITY_CHANGE_KINDS: readonly SecurityChangeKind[] = Object.freeze([
  'api-key',
  'principal',
  'role',
  'signing-key',
  'session',
  'all',
]);

/**
 * A change that makes cached security state stale on every instance: a key revoked or rotated, a
 * principal disabled, a role's permissions changed...
 * @example
 * await bus.publish({ kind: 'api-key', id: keyId });
 */
export interface SecurityChange {
  kind: SecurityChangeKind;
  /** The key id, principal id or role name; `*` with kind `all`. */
  id: string;
  /** Instance id of the publisher (set by the bus that publishes it). */
  origin?: string;
}

/** Longest `id` (the `security_changes.id` column). */
export const SECURITY_CHANGE_ID_MAX_LENGTH = 255;
/** Longest `origin` (the `security_changes.origin` column). */
export const SECURITY_CHANGE_ORIGIN_MAX_LENGTH = 64;

/**
 * The change `value` describes, as a new frozen object with only the known fields, or undefined when
 * it is not a valid change (unknown kind, empty or too long id, `all` without id `*`, bad origin).
 * Unknown extra fields are ignored, so newer publishers can add some. A null origin (a database row)
 * counts as none.
 */
export function parseSecurityChange(value: unknown): Readonly<SecurityChange> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { kind, id, origin } = value as Record<string, unknown>;
  if (typeof kind !== 'string' || !(SECURITY_CHANGE_KINDS as readonly string[]).includes(kind)) return undefined;
  if (typeof id !== 'string' || id.length === 0 || id.length > SECURITY_CHANGE_ID_MAX_LENGTH) return undefined;
  if (kind === 'all' && id !== '*') return undefined;
  if (origin === undefined || origin === null) return Object.freeze({ kind: kind as SecurityChangeKind, id });
  if (typeof origin !== 'string' || origin.length === 0 || origin.length > SECURITY_CHANGE_ORIGIN_MAX_LENGTH) {
    return undefined;
  }
  return Object.freeze({ kind: kind as SecurityChangeKind, id, origin });
}

/** `parseSecurityChange` of a JSON text; undefined when it is not JSON either. */
export function decodeSecurityChange(json: string): Readonly<SecurityChange> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  return parseSecurityChange(value);
}
