import fc from 'fast-check';
import { parseJsonWithin, type JsonShapeLimits } from './json-shape.js';

const LIMITS: JsonShapeLimits = { maxDepth: 4, maxArrayLength: 6, maxKeys: 6 };
const RULES = ['syntax', 'depth', 'array_length', 'keys', 'forbidden_key'];
const jsonish = fc.string({
  unit: fc.constantFrom(
    '[',
    ']',
    '{',
    '}',
    '"',
    '\\',
    ':',
    ',',
    ' ',
    '1',
    '-',
    '.',
    'e',
    'u',
    'null',
    '__proto__',
    '\ud800',
    '\u2028',
  ),
  maxLength: 30,
});

describe('parseJsonWithin (fast-check, fixed seeds)', () => {
  it('gives the value JSON.parse gives, or a violation under the root, for any text', () => {
    fc.assert(
      fc.property(
        fc.oneof(jsonish, fc.string(), fc.json({ maxDepth: 6 })),
        fc.constantFrom('body', 'payload'),
        (text, root) => {
          const result = parseJsonWithin(text, LIMITS, root);
          let parsed: { value: unknown } | undefined;
          try {
            parsed = { value: JSON.parse(text) as unknown };
          } catch {
            parsed = undefined;
          }
          if ('value' in result) {
            expect(parsed).toBeDefined();
            expect(result.value).toEqual(parsed!.value);
          } else {
            expect(RULES).toContain(result.violation.rule);
            expect(result.violation.path.startsWith(root)).toBe(true);
            // Valid JSON under these limits is refused only for a rule it breaks, never for its syntax.
            if (parsed !== undefined) expect(result.violation.rule).not.toBe('syntax');
            // The reason never quotes the text.
            if (text.length > 12) expect(result.violation.reason.includes(text)).toBe(false);
          }
        },
      ),
      { seed: 8261, numRuns: 250 },
    );
  });
});
