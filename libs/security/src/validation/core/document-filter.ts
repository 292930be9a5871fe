import { InvalidInputError, type InvalidParam } from '../../core/errors.js';
import { FORBIDDEN_KEYS } from './json-shape.js';

/** A value a document store compares for equality, never an operator. */
export type ScalarValue = string | number | boolean | null;

/** Plain field names only: no `$` operators, no dotted paths into sub-documents. */
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_NAME = 64;
const MAX_PARAMS = 20;

/**
 * A document-store (MongoDB-style) equality filter built only from scalars, so `{ "$gt": "" }` sent where
 * a name was expected can never become an operator: every value is wrapped in `$eq`, objects, arrays,
 * functions, symbols, bigints and non-finite numbers are refused, and field names must be plain (and in
 * `allowedFields` when given). Fields whose value is `undefined` are left out (absent optional filters).
 * Throws `InvalidInputError` naming every refused field. The result has a null prototype.
 * @example scalarFilter({ email: dto.email }, { allowedFields: ['email'] }) // → { email: { $eq: '…' } }
 */
export function scalarFilter(
  fields: Record<string, unknown>,
  options: { allowedFields?: readonly string[] } = {},
): Record<string, { $eq: ScalarValue }> {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new InvalidInputError([{ name: 'filter', reason: 'must be an object' }]);
  }
  const allowed = options.allowedFields ? new Set(options.allowedFields) : undefined;
  const filter = Object.create(null) as Record<string, { $eq: ScalarValue }>;
  const invalid: InvalidParam[] = [];
  for (const name of Object.keys(fields)) {
    if (invalid.length >= MAX_PARAMS) break;
    if (!FIELD_NAME.test(name) || FORBIDDEN_KEYS.has(name) || (allowed && !allowed.has(name))) {
      invalid.push({ name: name.slice(0, MAX_NAME), reason: 'is not an accepted field' });
      continue;
    }
    const value = fields[name];
    if (value === undefined) continue;
    if (!isScalar(value)) {
      invalid.push({ name, reason: 'must be a single value' });
      continue;
    }
    filter[name] = { $eq: value };
  }
  if (invalid.length > 0) throw new InvalidInputError(invalid);
  return filter;
}

function isScalar(value: unknown): value is ScalarValue {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}
