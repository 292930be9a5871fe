/** Key names whose values are never written to logs or the audit trail. */
export const SECRET_KEY_PATTERN =
  /(pass(word)?|secret|token|authorization|cookie|api[-_]?key|private[-_]?key|credential|signature|otp|pepper)/i;

const REDACTED = '[REDACTED]';
const MAX_DEPTH = 8;
const MAX_STRING = 2048;

/**
 * Copies `value`, replacing the values of secret-looking keys, cutting long strings and deep nesting.
 * Pure; used on every event's details before it is logged or stored.
 */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_DEPTH) return '[TRUNCATED]';
  if (Array.isArray(value)) return value.slice(0, 100).map((item) => redactSecrets(item, depth + 1));
  if (value instanceof Date) return value.toISOString();
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    out[key] = SECRET_KEY_PATTERN.test(key) ? REDACTED : redactSecrets(child, depth + 1);
  }
  return out;
}
