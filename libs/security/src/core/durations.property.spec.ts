import fc from 'fast-check';
import { parseDuration, parseLimit, parseSize } from './durations.js';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const UNIT_BYTES = { b: 1, kb: 1_024, mb: 1_048_576 } as const;
const durationUnit = fc.constantFrom(...(Object.keys(UNIT_MS) as (keyof typeof UNIT_MS)[]));
const sizeUnit = fc.constantFrom(...(Object.keys(UNIT_BYTES) as (keyof typeof UNIT_BYTES)[]));
// Text close to the grammar: digits, units, separators, signs, exponents, spaces and non-ASCII digits.
const specish = fc.string({
  unit: fc.constantFrom(...'0123456789/smhdkbMSK.-+e _'.split(''), '\u0661', '\uff11', '\n', '\ud800'),
  maxLength: 24,
});
const anyText = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), specish);
// Numbers in decimal, possibly with leading zeros or past the safe-integer range.
const digits = fc.oneof(
  fc.nat({ max: 1_000_000 }).map(String),
  fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String),
  fc.tuple(fc.nat({ max: 3 }), fc.nat({ max: 10_000 })).map(([zeros, n]) => '0'.repeat(zeros) + n),
);

describe('duration, limit and size specs (fast-check, fixed seeds)', () => {
  it('parse arbitrary text to a whole number or undefined, never throwing', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        for (const value of [parseDuration(text), parseDuration(text, { allowZero: true }), parseSize(text)]) {
          if (value !== undefined) expect(Number.isSafeInteger(value) && value >= 0).toBe(true);
        }
        const limit = parseLimit(text);
        if (limit !== undefined) {
          expect(Object.keys(limit).sort()).toEqual(['limit', 'windowMs']);
          expect(Number.isSafeInteger(limit.limit) && limit.limit > 0).toBe(true);
          expect(Number.isSafeInteger(limit.windowMs) && limit.windowMs > 0).toBe(true);
        }
        // Only ASCII digits and the units make a spec: no sign, space, fraction or other script's digits.
        if (parseDuration(text, { allowZero: true }) !== undefined) expect(text).toMatch(/^\d+(ms|s|m|h|d)$/);
        if (limit !== undefined) expect(text).toMatch(/^\d+\/\d+(ms|s|m|h|d)$/);
      }),
      { seed: 20, numRuns: 600 },
    );
  });

  it('round-trip generated durations, with undefined exactly when zero or unsafe', () => {
    fc.assert(
      fc.property(digits, durationUnit, fc.boolean(), (n, unit, allowZero) => {
        const ms = Number(n) * UNIT_MS[unit];
        const expected = Number.isSafeInteger(ms) && (ms > 0 || allowZero) ? ms : undefined;
        expect(parseDuration(`${n}${unit}`, { allowZero })).toBe(expected);
      }),
      { seed: 21, numRuns: 250 },
    );
  });

  it('round-trip generated limits `${n}/${d}${unit}`', () => {
    fc.assert(
      fc.property(digits, digits, durationUnit, (n, d, unit) => {
        const limit = Number(n);
        const windowMs = Number(d) * UNIT_MS[unit];
        const valid = Number.isSafeInteger(limit) && limit > 0 && Number.isSafeInteger(windowMs) && windowMs > 0;
        expect(parseLimit(`${n}/${d}${unit}`)).toEqual(valid ? { limit, windowMs } : undefined);
      }),
      { seed: 22, numRuns: 250 },
    );
  });

  it('round-trip generated sizes', () => {
    fc.assert(
      fc.property(digits, sizeUnit, (n, unit) => {
        const bytes = Number(n) * UNIT_BYTES[unit];
        expect(parseSize(`${n}${unit}`)).toBe(Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined);
      }),
      { seed: 23, numRuns: 250 },
    );
  });

  it('refuse a valid spec with anything added around it', () => {
    const spec = fc.oneof(
      fc.tuple(fc.integer({ min: 1, max: 999 }), durationUnit).map(([n, unit]) => `${n}${unit}`),
      fc
        .tuple(fc.integer({ min: 1, max: 999 }), fc.integer({ min: 1, max: 999 }), durationUnit)
        .map(([n, d, unit]) => `${n}/${d}${unit}`),
    );
    const noise = fc.string({ minLength: 1, maxLength: 3 }).filter((text) => !/^\d+$/.test(text));
    fc.assert(
      fc.property(spec, noise, fc.boolean(), (text, extra, before) => {
        const mutated = before ? extra + text : text + extra;
        fc.pre(!/^\d+(\/\d+)?(ms|s|m|h|d)$/.test(mutated));
        expect(parseDuration(mutated, { allowZero: true })).toBeUndefined();
        expect(parseLimit(mutated)).toBeUndefined();
      }),
      { seed: 24, numRuns: 250 },
    );
  });
});
