import fc from 'fast-check';
import { InvalidInputError, MalformedBodyError, SecurityError, UnsupportedMediaTypeError } from '../core/errors.js';
import type { ResolvedInputLimits } from '../options/security-options.js';
import { checkRequestQuery, decodeBody } from './body-parsing.js';

const SHAPE = { maxDepth: 8, maxArrayLength: 16, maxKeys: 16 };
const LIMITS = { queryParams: 8 } as ResolvedInputLimits;

// Content-Type values as clients send them: valid, parameters in any order and case, broken quoting, garbage.
const contentType = fc.oneof(
  fc.constantFrom(
    'application/json',
    'APPLICATION/JSON',
    'application/problem+json',
    'application/json; charset=utf-8',
  ),
  fc.constantFrom(
    'application/json;charset="UTF-8"',
    'application/json; charset=latin1',
    'application/json;',
    'text/plain',
  ),
  fc.constantFrom(
    'application/json; charset="unterminated',
    'application/json; =x',
    ';;',
    '/',
    'a/b/c',
    'application/x-www-form-urlencoded',
  ),
  fc
    .tuple(
      fc.constantFrom('application/json', 'text/plain', 'x/y', ''),
      fc.array(fc.tuple(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })), { maxLength: 2 }),
    )
    .map(([type, params]) => [type, ...params.map(([name, value]) => `${name}=${value}`)].join('; ')),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 10 }),
);
const body = fc.oneof(
  fc.json().map((text) => Buffer.from(text)),
  fc.string().map((text) => Buffer.from(text)),
  fc.uint8Array({ maxLength: 24 }).map((bytes) => Buffer.from(bytes)),
  fc
    .constantFrom('{"__proto__":{"x":1}}', '[[[[[[[[[[1]]]]]]]]]]', '{"a":', '\ufeff{}', '{"a":1,"a":2}')
    .map((t) => Buffer.from(t)),
);

describe('decodeBody (fast-check, fixed seeds)', () => {
  it('answers any body, Content-Type and Content-Encoding with a value or a typed 400/415 error', () => {
    fc.assert(
      fc.property(
        body,
        fc.option(contentType, { nil: undefined }),
        fc.option(fc.oneof(fc.constantFrom('identity', ' IDENTITY ', 'gzip', 'br', ''), fc.string({ maxLength: 6 })), {
          nil: undefined,
        }),
        (bytes, type, encoding) => {
          const headers = { 'content-type': type, 'content-encoding': encoding };
          let value: unknown;
          try {
            value = decodeBody(bytes, headers, SHAPE);
          } catch (error) {
            expect(error).toBeInstanceOf(SecurityError);
            expect(
              [UnsupportedMediaTypeError, MalformedBodyError, InvalidInputError].some((type) => error instanceof type),
            ).toBe(true);
            return;
          }
          // Nothing, the bytes themselves, their text, or the JSON value they hold.
          if (bytes.length === 0) expect(value).toBeUndefined();
          else if (Buffer.isBuffer(value)) expect(value.equals(bytes)).toBe(true);
          else if (typeof value === 'string' && !/json/i.test(type ?? '')) expect(value).toBe(bytes.toString('utf8'));
          else expect(value).toEqual(JSON.parse(bytes.toString('utf8')));
          if (bytes.length > 0 && /^application\/json$/i.test(type ?? '')) expect(Buffer.isBuffer(value)).toBe(false);
        },
      ),
      { seed: 8259, numRuns: 500 },
    );
  });
});

describe('checkRequestQuery (fast-check, fixed seeds)', () => {
  it('accepts or refuses any URL with InvalidInputError', () => {
    const query = fc.oneof(
      fc.string(),
      fc
        .array(
          fc.oneof(
            fc.string({ maxLength: 6 }),
            fc.constantFrom('__proto__=1', 'a[constructor]=1', '%5F%5Fproto%5F%5F', 'a=%', '%zz=1', 'a.prototype', '+'),
          ),
          { maxLength: 10 },
        )
        .map((parts) => parts.join('&')),
    );
    fc.assert(
      fc.property(
        fc.option(
          fc.tuple(fc.constantFrom('/', '/a?', '/?', ''), query).map(([path, q]) => `${path}?${q}`),
          { nil: undefined },
        ),
        (url) => {
          try {
            checkRequestQuery(url, LIMITS);
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidInputError);
          }
        },
      ),
      { seed: 8260, numRuns: 500 },
    );
  });
});
