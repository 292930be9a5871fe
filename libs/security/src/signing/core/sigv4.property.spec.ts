import fc from 'fast-check';
import { SignatureVerificationError } from './signed-request.types.js';
import {
  parseSigV4,
  parseSigV4Authorization,
  sigv4AmzDate,
  sigv4CanonicalUri,
  sigv4ParseAmzDate,
  type SigV4Authorization,
} from './sigv4.js';

const OPTIONS = { sigv4: { region: 'us-east-1', service: 'demo' } };
const SIGNATURE = 'ab'.repeat(32);

/** The parsed header, or undefined after the typed error; any other throw fails the property. */
function parseAuthorization(value: string): SigV4Authorization | undefined {
  try {
    return parseSigV4Authorization(value);
  } catch (error) {
    expect(error).toBeInstanceOf(SignatureVerificationError);
    return undefined;
  }
}

const accessKeyId = fc.stringMatching(/^[A-Z0-9]{1,20}$/);
const scopeDate = fc.date({ min: new Date('1970-01-01'), max: new Date('9999-12-31'), noInvalidDate: true });
const headerName = fc.stringMatching(/^[a-z0-9-]{1,10}$/);
const signedHeaders = fc.uniqueArray(headerName, { minLength: 1, maxLength: 6 }).map((names) => names.sort());

describe('parseSigV4Authorization (fast-check, fixed seeds)', () => {
  it('answers arbitrary text with the parts or the typed error', () => {
    const near = fc
      .array(
        fc.oneof(
          fc.constantFrom('AWS4-HMAC-SHA256', ' ', ',', '=', '/', ';', 'Credential', 'SignedHeaders', 'Signature'),
          fc.constantFrom('aws4_request', '20150830', 'us-east-1', 'demo', SIGNATURE, 'host', '\u00e9', '\ud800'),
          fc.string({ maxLength: 4 }),
        ),
        { maxLength: 20 },
      )
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), near), (value) => {
        const parsed = parseAuthorization(value);
        if (parsed) {
          expect(parsed.scope).toBe(`${parsed.date}/${parsed.region}/${parsed.service}/aws4_request`);
          expect(parsed.signature).toMatch(/^[0-9a-f]{64}$/);
          expect([...parsed.signedHeaders].sort()).toEqual(parsed.signedHeaders);
        }
      }),
      { seed: 40, numRuns: 600 },
    );
  });

  it('reads a well-formed header whatever the order of its fields and the whitespace around them', () => {
    const space = fc.constantFrom('', ' ', '  ', '\t');
    fc.assert(
      fc.property(
        accessKeyId,
        scopeDate,
        signedHeaders,
        fc.constantFrom<[number, number, number]>([0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]),
        fc.array(space, { minLength: 8, maxLength: 8 }),
        (keyId, at, names, order, pad) => {
          const date = sigv4AmzDate(at).slice(0, 8);
          const fields = [
            `Credential=${keyId}/${date}/us-east-1/demo/aws4_request`,
            `SignedHeaders=${names.join(';')}`,
            `Signature=${SIGNATURE}`,
          ];
          const value = `${pad[0]}AWS4-HMAC-SHA256 ${order.map((i, n) => `${pad[n + 1]}${fields[i]}${pad[n + 4]}`).join(',')}${pad[7]}`;
          expect(parseSigV4Authorization(value)).toEqual({
            accessKeyId: keyId,
            date,
            region: 'us-east-1',
            service: 'demo',
            scope: `${date}/us-east-1/demo/aws4_request`,
            signedHeaders: names,
            signature: SIGNATURE,
          });
        },
      ),
      { seed: 41, numRuns: 200 },
    );
  });

  it('refuses a duplicated, unknown or missing field, and unsorted or repeated signed headers', () => {
    const base = (names: string[]) => [
      'Credential=AKID/20150830/us-east-1/demo/aws4_request',
      `SignedHeaders=${names.join(';')}`,
      `Signature=${SIGNATURE}`,
    ];
    fc.assert(
      fc.property(
        signedHeaders,
        fc.constantFrom('duplicate', 'unknown', 'missing', 'unsorted', 'repeated', 'upper'),
        fc.nat({ max: 2 }),
        (names, how, index) => {
          let fields = base(names);
          if (how === 'duplicate') fields.push(fields[index]!);
          if (how === 'unknown') fields.push('Extra=1');
          if (how === 'missing') fields.splice(index, 1);
          if (how === 'unsorted') {
            fc.pre(names.length > 1);
            fields = base([...names].reverse());
          }
          if (how === 'repeated') fields = base([...names, names[names.length - 1]!]);
          if (how === 'upper') fields = base(names.map((name) => name.toUpperCase()));
          fc.pre(how !== 'upper' || names.some((name) => /[a-z]/.test(name)));
          const error = (() => {
            try {
              parseSigV4Authorization(`AWS4-HMAC-SHA256 ${fields.join(', ')}`);
            } catch (caught) {
              return caught;
            }
            return undefined;
          })();
          expect(error).toBeInstanceOf(SignatureVerificationError);
          expect((error as SignatureVerificationError).reason).toBe('malformed');
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });
});

describe('sigv4ParseAmzDate (fast-check, fixed seeds)', () => {
  it('round-trips every instant it writes, to the second', () => {
    fc.assert(
      fc.property(scopeDate, (at) => {
        expect(sigv4ParseAmzDate(sigv4AmzDate(at))).toBe(Math.floor(at.getTime() / 1000));
      }),
      { seed: 43, numRuns: 250 },
    );
  });

  it('accepts text only when it is exactly the form it writes', () => {
    const dateish = fc.string({ unit: fc.constantFrom(...'0123456789TZ-:+ '.split('')), minLength: 14, maxLength: 18 });
    fc.assert(
      fc.property(fc.oneof(dateish, fc.string()), (text) => {
        const seconds = sigv4ParseAmzDate(text);
        if (seconds !== undefined) expect(sigv4AmzDate(new Date(seconds * 1000))).toBe(text);
      }),
      { seed: 44, numRuns: 500 },
    );
  });
});

describe('sigv4CanonicalUri (fast-check, fixed seeds)', () => {
  const rawPath = fc
    .array(
      fc.oneof(
        fc.stringMatching(/^[A-Za-z0-9]{0,4}$/),
        fc.constantFrom(
          '..',
          '.',
          '',
          '%',
          '%zz',
          '%2F',
          '%2e%2e',
          '%C0%AF',
          'a b',
          '\u00e9',
          '\ud800',
          '😀',
          '?',
          '#',
        ),
      ),
      { maxLength: 8 },
    )
    .chain((segments) => fc.constantFrom(`/${segments.join('/')}`, segments.join('/')));

  it('writes any raw path as encoded segments without dot or empty segments', () => {
    fc.assert(
      fc.property(fc.oneof(rawPath, fc.string({ unit: 'binary' })), (path) => {
        const uri = sigv4CanonicalUri(path);
        expect(uri).toMatch(/^(?:[A-Za-z0-9\-._~/]|%[0-9A-F]{2})*$/);
        const inner = uri.replace(/^\//, '').replace(/\/$/, '');
        if (inner !== '') {
          for (const segment of inner.split('/')) expect(['', '.', '..']).not.toContain(segment);
        }
        // Dot segments never climb above the root.
        if (path.startsWith('/')) expect(uri.startsWith('/')).toBe(true);
      }),
      { seed: 45, numRuns: 500 },
    );
  });

  it('gives the same URI for paths that differ only by dot and empty segments', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[A-Za-z0-9]{1,4}$/), { maxLength: 5 }),
        fc.array(fc.constantFrom('', '.', 'x/..'), { maxLength: 5 }),
        (segments, noise) => {
          const plain = `/${segments.join('/')}`;
          const noisy = `/${segments.flatMap((segment, i) => [noise[i] ?? '', segment]).join('/')}`;
          expect(sigv4CanonicalUri(noisy)).toBe(sigv4CanonicalUri(plain));
        },
      ),
      { seed: 46, numRuns: 200 },
    );
  });
});

describe('parseSigV4 (fast-check, fixed seeds)', () => {
  it('answers any SignedHeaders list (names of Object.prototype included) with a result or the typed error', () => {
    const name = fc.oneof(
      fc.stringMatching(/^[a-z0-9-]{1,8}$/),
      fc.constantFrom('host', 'x-amz-date', 'constructor', '__proto__', 'tostring', 'content-type'),
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(name, { maxLength: 5 }),
        fc.dictionary(fc.stringMatching(/^[a-z-]{1,6}$/), fc.string({ maxLength: 6 }), { maxKeys: 3 }),
        (names, extra) => {
          const signed = [...new Set(['host', 'x-amz-date', ...names])].sort();
          const headers = {
            ...extra,
            host: 'example.com',
            'x-amz-date': '20150830T123600Z',
            authorization: `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/demo/aws4_request, SignedHeaders=${signed.join(';')}, Signature=${SIGNATURE}`,
          };
          try {
            const parsed = parseSigV4({ method: 'GET', path: '/', query: '', headers, body: Buffer.alloc(0) }, OPTIONS);
            expect(parsed.coveredHeaders).toEqual(signed);
            for (const covered of signed) expect(Object.hasOwn(headers, covered)).toBe(true);
            expect(parsed.verify({ algorithm: 'hmac-sha256', secret: Buffer.from('s') })).toBe(false);
          } catch (error) {
            expect(error).toBeInstanceOf(SignatureVerificationError);
          }
        },
      ),
      { seed: 48, numRuns: 250 },
    );
  });

  it('answers any x-amz-date, x-amz-content-sha256 and query with a result or the typed error', () => {
    const authorization = `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/demo/aws4_request, SignedHeaders=host;x-amz-date, Signature=${SIGNATURE}`;
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.constantFrom('20150830T123600Z', '20150830T246000Z', '99999999T999999Z')),
        fc.option(fc.oneof(fc.string(), fc.constantFrom('UNSIGNED-PAYLOAD', 'STREAMING-X', 'e3b0'))),
        fc.oneof(fc.string(), fc.constantFrom('X-Amz-Signature=1', 'x-amz-credential=a&b=c', '')),
        (amzDate, contentSha, query) => {
          const headers = {
            host: 'example.com',
            'x-amz-date': amzDate,
            authorization,
            ...(contentSha === null ? {} : { 'x-amz-content-sha256': contentSha }),
          };
          try {
            const parsed = parseSigV4({ method: 'GET', path: '/', query, headers, body: Buffer.alloc(0) }, OPTIONS);
            expect(parsed.created).toBe(sigv4ParseAmzDate(amzDate.trim()));
            expect(parsed.verify({ algorithm: 'hmac-sha256', secret: Buffer.from('s') })).toBe(false);
          } catch (error) {
            expect(error).toBeInstanceOf(SignatureVerificationError);
          }
        },
      ),
      { seed: 47, numRuns: 250 },
    );
  });
});
