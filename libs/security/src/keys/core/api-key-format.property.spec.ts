import fc from 'fast-check';
import {
  API_KEY_CHECKSUM_LENGTH,
  API_KEY_ID_LENGTH,
  API_KEY_SECRET_LENGTH,
  BASE62_ALPHABET,
  apiKeyChecksum,
  generateApiKey,
  parseApiKey,
} from './api-key-format.js';

const base62 = (length: number) =>
  fc.string({ unit: fc.constantFrom(...BASE62_ALPHABET.split('')), minLength: length, maxLength: length });
const prefix = fc.stringMatching(/^[a-z][a-z0-9]{1,15}$/);
const environment = fc.constantFrom('live' as const, 'test' as const);
// Keys built from fast-check's own choices (generateApiKey draws from crypto.randomBytes).
const validKey = fc
  .record({ prefix, environment, id: base62(API_KEY_ID_LENGTH), secret: base62(API_KEY_SECRET_LENGTH) })
  .map((parts) => {
    const body = `${parts.prefix}_${parts.environment}_${parts.id}${parts.secret}`;
    return { ...parts, key: body + apiKeyChecksum(body) };
  });
// Text near a key: its alphabet, separators, look-alikes and characters outside the BMP or unpaired.
const keyish = fc.string({
  unit: fc.constantFrom(
    ...'sk_livetsA0z9-._ '.split(''),
    '\u0000',
    '\u00e9',
    '\u0131',
    '\u212a',
    '\ud800',
    '\udfff',
    '😀',
  ),
  maxLength: 60,
});

describe('parseApiKey (fast-check, fixed seeds)', () => {
  it('returns a failure union for any text, never throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), keyish), (text) => {
        const result = parseApiKey(text);
        if (result.ok) {
          // Only a well-formed key with a matching checksum parses.
          expect(text).toMatch(/^sk_(live|test)_[0-9A-Za-z]{40}$/);
          expect(apiKeyChecksum(text.slice(0, -API_KEY_CHECKSUM_LENGTH))).toBe(text.slice(-API_KEY_CHECKSUM_LENGTH));
        } else {
          expect(result).toEqual({ ok: false, reason: expect.stringMatching(/^(malformed|checksum)$/) });
        }
      }),
      { seed: 9421, numRuns: 500 },
    );
  });

  it('parses every well-formed key back into its parts', () => {
    fc.assert(
      fc.property(validKey, ({ key, ...parts }) => {
        expect(parseApiKey(key, parts.prefix)).toEqual({ ok: true, ...parts });
      }),
      { seed: 1, numRuns: 200 },
    );
  });

  it('parses keys from generateApiKey back into their parts', () => {
    fc.assert(
      fc.property(prefix, environment, (keyPrefix, env) => {
        const generated = generateApiKey({ prefix: keyPrefix, environment: env });
        expect(parseApiKey(generated.key, keyPrefix)).toEqual({
          ok: true,
          prefix: keyPrefix,
          environment: env,
          id: generated.id,
          secret: generated.secret,
        });
      }),
      { seed: 2, numRuns: 200 },
    );
  });

  it('refuses a key with any one character changed', () => {
    const changed = validKey.chain(({ key, prefix: keyPrefix }) =>
      fc.record({
        key: fc.constant(key),
        keyPrefix: fc.constant(keyPrefix),
        index: fc.nat({ max: key.length - 1 }),
        replacement: fc.oneof(fc.constantFrom(...BASE62_ALPHABET.split('')), fc.string({ minLength: 1, maxLength: 1 })),
      }),
    );
    fc.assert(
      fc.property(changed, ({ key, keyPrefix, index, replacement }) => {
        fc.pre(key[index] !== replacement);
        const mutated = key.slice(0, index) + replacement + key.slice(index + 1);
        const result = parseApiKey(mutated, keyPrefix);
        expect(result.ok).toBe(false);
        // Inside the base62 body, a substitution keeps the shape: only the checksum can catch it.
        const bodyStart = key.length - API_KEY_ID_LENGTH - API_KEY_SECRET_LENGTH - API_KEY_CHECKSUM_LENGTH;
        if (index >= bodyStart && BASE62_ALPHABET.includes(replacement)) {
          expect(result).toEqual({ ok: false, reason: 'checksum' });
        }
      }),
      { seed: 3, numRuns: 500 },
    );
  });

  it('refuses a key with a character inserted, deleted or surrounded by whitespace', () => {
    const edited = fc.tuple(
      validKey,
      fc.nat(),
      fc.constantFrom('insert', 'delete', 'pad'),
      fc.string({ maxLength: 2 }),
    );
    fc.assert(
      fc.property(edited, ([{ key, prefix: keyPrefix }, at, edit, text]) => {
        const index = at % (key.length + 1);
        const mutated =
          edit === 'insert'
            ? key.slice(0, index) + (text || 'a') + key.slice(index)
            : edit === 'delete'
              ? key.slice(0, Math.min(index, key.length - 1)) + key.slice(Math.min(index, key.length - 1) + 1)
              : ` ${key}${text}`;
        expect(parseApiKey(mutated, keyPrefix)).toEqual({ ok: false, reason: 'malformed' });
      }),
      { seed: 4, numRuns: 250 },
    );
  });
});
