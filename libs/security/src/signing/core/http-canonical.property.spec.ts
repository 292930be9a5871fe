import fc from 'fast-check';
import {
  canonicalQuery,
  foldWhitespace,
  headerLines,
  headerValue,
  percentDecode,
  rfc3986Encode,
} from './http-canonical.js';

// Raw URL text as a client may send it: broken and overlong escapes, separators, unpaired surrogates.
const urlUnit = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(..."aZ09-._~%+=&;/?#[]@!$'()*, \t".split('')) },
  { weight: 3, arbitrary: fc.constantFrom('%', '%2', '%zz', '%C0%AF', '%FF', '%00', '%25', '%2B', '%20', '%e2%82%ac') },
  { weight: 1, arbitrary: fc.constantFrom('\ud800', '\udfff', '\u00e9', '😀', '\u0000', '\u2028', '..', '.') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 2 }) },
);
const rawUrlText = fc.array(urlUnit, { maxLength: 24 }).map((units) => units.join(''));
const ENCODED = /^(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})*$/;
const CANONICAL_QUERY = /^(?:(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})*=(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})*(?:&|$))*$/;

describe('percent-encoding (fast-check, fixed seeds)', () => {
  it('decodes arbitrary text without throwing, and encodes it to unreserved characters and %XX only', () => {
    fc.assert(
      fc.property(fc.oneof(rawUrlText, fc.string({ unit: 'binary' })), fc.boolean(), (text, plus) => {
        const bytes = percentDecode(text, plus);
        expect(Buffer.isBuffer(bytes)).toBe(true);
        expect(rfc3986Encode(bytes)).toMatch(ENCODED);
        expect(rfc3986Encode(text)).toMatch(ENCODED);
        // Text without a `%` (or `+` read as a space) decodes to its own UTF-8 bytes.
        if (!text.includes('%') && !(plus && text.includes('+'))) expect(bytes.equals(Buffer.from(text))).toBe(true);
      }),
      { seed: 3986, numRuns: 500 },
    );
  });

  it('round-trips any bytes through rfc3986Encode and percentDecode', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bytes, plus) => {
        expect(percentDecode(rfc3986Encode(bytes), plus).equals(Buffer.from(bytes))).toBe(true);
      }),
      { seed: 3987, numRuns: 250 },
    );
  });
});

describe('canonicalQuery (fast-check, fixed seeds)', () => {
  const pieces = fc.array(
    rawUrlText.map((text) => text.replace(/&/g, '')),
    { maxLength: 8 },
  );

  it('turns any raw query into sorted name=value pairs of encoded text, without throwing', () => {
    fc.assert(
      fc.property(fc.oneof(rawUrlText, fc.string({ unit: 'binary' })), (query) => {
        const canonical = canonicalQuery(query);
        expect(canonical).toMatch(CANONICAL_QUERY);
        const pairs = canonical === '' ? [] : canonical.split('&');
        const sorted = [...pairs].sort((a, b) => {
          const [an, av] = a.split('=') as [string, string];
          const [bn, bv] = b.split('=') as [string, string];
          return an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0;
        });
        expect(pairs).toEqual(sorted);
        // One pair per non-empty piece: nothing dropped, nothing invented.
        expect(pairs.length).toBe(query.split('&').filter((piece) => piece !== '').length);
      }),
      { seed: 5, numRuns: 500 },
    );
  });

  it('does not depend on the order of the pairs', () => {
    fc.assert(
      fc.property(
        pieces.chain((list) => fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length }))),
        ([list, shuffled]) => {
          expect(canonicalQuery(shuffled.join('&'))).toBe(canonicalQuery(list.join('&')));
        },
      ),
      { seed: 6, numRuns: 250 },
    );
  });

  it('is idempotent, and ignores empty pieces', () => {
    fc.assert(
      fc.property(pieces, fc.nat({ max: 3 }), (list, empties) => {
        const canonical = canonicalQuery(list.join('&'));
        expect(canonicalQuery(canonical)).toBe(canonical);
        expect(canonicalQuery('&'.repeat(empties) + list.join('&'.repeat(empties + 1)))).toBe(canonical);
      }),
      { seed: 7, numRuns: 250 },
    );
  });

  it('signs a raw `+` as a space and `%2B` as a plus', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z]{1,5}$/), fc.stringMatching(/^[a-z]{0,5}$/), (name, value) => {
        expect(canonicalQuery(`${name}=${value}+x`)).toBe(`${name}=${value}%20x`);
        expect(canonicalQuery(`${name}=${value}%2Bx`)).toBe(`${name}=${value}%2Bx`);
      }),
      { seed: 8, numRuns: 200 },
    );
  });
});

describe('header access (fast-check, fixed seeds)', () => {
  const name = fc.oneof(
    fc.stringMatching(/^[a-z0-9!#$%&'*+.^_`|~-]{1,12}$/),
    fc.constantFrom('constructor', '__proto__', 'tostring', 'hasownproperty', 'valueof', 'prototype', 'host'),
  );

  it('reads only headers the request carries, whatever name the client asks for', () => {
    const headers = fc.dictionary(
      fc.stringMatching(/^[a-z-]{1,8}$/),
      fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 3 })),
    );
    fc.assert(
      fc.property(headers, name, fc.boolean(), (given, asked, nullPrototype) => {
        const object = nullPrototype ? Object.assign(Object.create(null) as object, given) : { ...given };
        const lines = headerLines(object, asked);
        if (Object.hasOwn(given, asked)) {
          const value = given[asked]!;
          expect(lines).toEqual(typeof value === 'string' ? [value] : value);
          expect(headerValue(object, asked)).toBe(lines!.join(', '));
        } else {
          expect(lines).toBeUndefined();
          expect(headerValue(object, asked)).toBeUndefined();
        }
      }),
      { seed: 9, numRuns: 250 },
    );
  });

  it('treats names inherited from Object.prototype as absent headers (regression)', () => {
    for (const inherited of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(headerLines({ host: 'a' }, inherited)).toBeUndefined();
      expect(headerValue({ host: 'a' }, inherited)).toBeUndefined();
    }
    expect(headerLines({ ':authority': 'a.example' }, 'host')).toEqual(['a.example']);
  });

  it('folds whitespace to single spaces without leading or trailing space, idempotently', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', ' ', '\t', '\n', '\r', '\u00a0', '\u2028', 'b') }), (text) => {
        const folded = foldWhitespace(text);
        expect(folded).not.toMatch(/^\s|\s$|\s\s|[^\S ]/);
        expect(foldWhitespace(folded)).toBe(folded);
      }),
      { seed: 10, numRuns: 200 },
    );
  });
});
