import fc from 'fast-check';
import {
  decodeSecurityChange,
  parseSecurityChange,
  SECURITY_CHANGE_ID_MAX_LENGTH,
  SECURITY_CHANGE_KINDS,
  SECURITY_CHANGE_ORIGIN_MAX_LENGTH,
  type SecurityChange,
} from './security-change.js';

const kind = fc.constantFrom(...SECURITY_CHANGE_KINDS);
const validChange: fc.Arbitrary<SecurityChange> = fc.oneof(
  fc.record(
    {
      kind: kind.filter((k) => k !== 'all'),
      id: fc.string({ minLength: 1, maxLength: SECURITY_CHANGE_ID_MAX_LENGTH }),
      origin: fc.string({ minLength: 1, maxLength: SECURITY_CHANGE_ORIGIN_MAX_LENGTH }),
    },
    { requiredKeys: ['kind', 'id'] },
  ),
  fc.record({ kind: fc.constant('all' as const), id: fc.constant('*') }),
);
// Messages as they may arrive from another instance, an older or newer version, or someone else.
const anyMessage = fc.oneof(
  fc.anything(),
  fc.json().map((text) => JSON.parse(text) as unknown),
  fc.record(
    {
      kind: fc.oneof(kind, fc.string(), fc.constantFrom('__proto__', 'constructor', 'API-KEY', 'all ')),
      id: fc.oneof(fc.string({ maxLength: 300 }), fc.integer(), fc.constant(null), fc.constant('*')),
      origin: fc.oneof(fc.string({ maxLength: 80 }), fc.constant(null), fc.integer(), fc.constant(undefined)),
      extra: fc.anything(),
    },
    { requiredKeys: [] },
  ),
);

describe('parseSecurityChange (fast-check, fixed seeds)', () => {
  it('returns a frozen change with only the known fields, or undefined, for any value', () => {
    fc.assert(
      fc.property(anyMessage, (value) => {
        const change = parseSecurityChange(value);
        if (change !== undefined) {
          expect(Object.isFrozen(change)).toBe(true);
          expect(SECURITY_CHANGE_KINDS).toContain(change.kind);
          expect(typeof change.id).toBe('string');
          expect(change.id.length).toBeGreaterThan(0);
          expect(change.id.length).toBeLessThanOrEqual(SECURITY_CHANGE_ID_MAX_LENGTH);
          if (change.kind === 'all') expect(change.id).toBe('*');
          expect(Object.keys(change).every((key) => ['kind', 'id', 'origin'].includes(key))).toBe(true);
          if ('origin' in change) expect(typeof change.origin).toBe('string');
        }
      }),
      { seed: 3001, numRuns: 250 },
    );
  });

  it('round-trips every valid change through JSON, extra fields ignored', () => {
    fc.assert(
      fc.property(
        validChange,
        fc.dictionary(
          fc.string().filter((key) => !['kind', 'id', 'origin'].includes(key)),
          fc.jsonValue({ maxDepth: 2 }),
          { maxKeys: 3 },
        ),
        (change, extra) => {
          const message = JSON.stringify({ ...extra, ...change });
          expect(decodeSecurityChange(message)).toEqual(change);
          expect(parseSecurityChange({ ...change, origin: null })).toEqual({ kind: change.kind, id: change.id });
        },
      ),
      { seed: 3002, numRuns: 200 },
    );
  });

  it('decodes arbitrary text to a change or undefined, never throwing', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          validChange.map((c) => JSON.stringify(c).slice(0, -1)),
        ),
        (text) => {
          const change = decodeSecurityChange(text);
          if (change !== undefined) expect(parseSecurityChange(JSON.parse(text))).toEqual(change);
        },
      ),
      { seed: 3003, numRuns: 500 },
    );
  });
});
