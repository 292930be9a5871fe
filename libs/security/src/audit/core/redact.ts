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
  if (typeof value === 'string') return storable(value);
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

// Postgres jsonb refuses NUL and lone surrogates; an attacker-chosen string must not cost an event its row.
// Cut by code point so that truncation never splits a surrogate pair itself.
function storable(text: string): string {
  const clean = text
    .replaceAll('\u0000', '\uFFFD')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  if (clean.length <= MAX_STRING) return clean;
  // Cutting by code point (Array.from) is what keeps surrogate pairs whole here.
  const points = Array.from(clean);
  return points.length > MAX_STRING ? `${points.slice(0, MAX_STRING).join('')}…` : clean;
}
