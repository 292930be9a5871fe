import fc from 'fast-check';
import { parseDictionary, serializeInnerList } from 'structured-headers';
import { checkContentDigest, contentDigest } from './content-digest.js';
import {
  parseRfc9421,
  parseRfc9421Signatures,
  rfc9421Algorithm,
  rfc9421SignatureBase,
  rfc9421SignatureParams,
  type Rfc9421Signature,
} from './rfc9421.js';
import { SignatureVerificationError, type ParsedSignature, type SignedRequestInput } from './signed-request.types.js';

const OPTIONS = { sigv4: { region: 'us-east-1', service: 'demo' } };
const HMAC = { algorithm: 'hmac-sha256' as const, secret: Buffer.from('secret') };

/** The value, or the typed error; any other throw fails the property. */
function attempt<T>(run: () => T): { value: T } | { error: SignatureVerificationError } {
  try {
    return { value: run() };
  } catch (error) {
    expect(error).toBeInstanceOf(SignatureVerificationError);
    return { error: error as SignatureVerificationError };
  }
}

// Structured-field text (RFC 8941/9651) built from valid and broken pieces.
const sfString = fc.string({ maxLength: 6 }).map((text) => `"${text.replace(/[\\"]/g, '\\$&')}"`);
const bareItem = fc.oneof(
  fc.integer({ min: -1e6, max: 2e9 }).map(String),
  fc.constantFrom(
    '999999999999999',
    '9999999999999999',
    '-0',
    '1.5',
    '1.2345',
    '?1',
    '?0',
    '@1700000000',
    '%"caf%c3%a9"',
  ),
  sfString,
  fc.constantFrom('tok', 'a:b', '*x', 'sha-256', 'hmac-sha256', 'ed25519', 'constructor', '__proto__', 'toString'),
  fc.base64String({ maxLength: 12 }).map((b64) => `:${b64}:`),
  fc.constantFrom('"\u00e9"', ':!!:', '"unterminated', '', '(', ')', ';', '"\\x"'),
);
const paramName = fc.constantFrom(
  'created',
  'expires',
  'nonce',
  'keyid',
  'alg',
  'tag',
  'sf',
  'key',
  'bs',
  'req',
  'tr',
  'name',
  'x',
  'constructor',
  '__proto__',
);
const params = fc
  .array(fc.tuple(paramName, fc.option(bareItem, { freq: 4 })), { maxLength: 4 })
  .map((list) => list.map(([name, value]) => (value === null ? `;${name}` : `;${name}=${value}`)).join(''));
const componentName = fc.oneof(
  fc.constantFrom('@method', '@path', '@query', '@authority', '@target-uri', '@request-target', '@scheme'),
  fc.constantFrom('@query-param', '@status', '@signature-params', '@unknown', '@METHOD', 'host', 'content-digest'),
  fc.constantFrom('x-custom', 'constructor', '__proto__', 'signature', 'cache-status', 'Host', ''),
  fc.string({ maxLength: 5 }),
);
const component = fc.tuple(componentName, params).map(([name, p]) => `${JSON.stringify(name)}${p}`);
const innerList = fc
  .tuple(fc.array(fc.oneof(component, bareItem), { maxLength: 6 }), params, fc.constantFrom(' ', '  ', '\t'))
  .map(([items, p, gap]) => `(${items.join(gap)})${p}`);
const label = fc.oneof(
  fc.constantFrom('sig1', 'sig2', 'a', 'constructor', '__proto__'),
  fc.stringMatching(/^[a-z*][a-z0-9_.*-]{0,5}$/),
);
const dictionary = (member: fc.Arbitrary<string>) =>
  fc
    .array(fc.tuple(label, member), { maxLength: 3 })
    .map((entries) => entries.map(([name, value]) => `${name}=${value}`).join(', '));
const signatureValue = fc.oneof(
  fc.base64String({ maxLength: 88 }).map((b64) => `:${b64}:`),
  bareItem,
  innerList,
);

const request = fc.record({
  path: fc.oneof(
    fc.constantFrom('/', '', '/a/../b', '/%', '/%zz', '/%C0%AF', '/\ud800', '/a b', '/é'),
    fc.string({ maxLength: 8 }),
  ),
  query: fc.oneof(
    fc.constantFrom('', 'a=1&a=2', 'x=%', 'x=%zz', '%C0%AF=1', 'a+b=c+d', 'name=\ud800', '=', '&&'),
    fc.string({ maxLength: 8 }),
  ),
  host: fc.option(fc.constantFrom('example.com', 'Example.com:80', 'a:443', '', ' x ')),
  custom: fc.option(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('a=1, b=(2 3)', 'x;y', '?1'))),
  body: fc.oneof(
    fc.constant(Buffer.alloc(0)),
    fc.uint8Array({ minLength: 1, maxLength: 8 }).map((bytes) => Buffer.from(bytes)),
  ),
  digest: fc.option(fc.oneof(fc.constantFrom('sha-256=:AA==:', 'md5=:AA==:', 'sha-512=1', '('), fc.string())),
});

type RequestParts = typeof request extends fc.Arbitrary<infer T> ? T : never;

function requestOf(
  r: RequestParts,
  signatureInput: string | string[],
  signature: string | string[],
): SignedRequestInput {
  return {
    method: 'POST',
    path: r.path,
    query: r.query,
    body: r.body,
    headers: {
      'signature-input': signatureInput,
      signature,
      ...(r.host === null ? {} : { host: r.host }),
      ...(r.custom === null ? {} : { 'x-custom': r.custom, 'cache-status': r.custom }),
      ...(r.digest === null ? {} : { 'content-digest': r.digest }),
    },
  };
}

function expectParsedShape(parsed: ParsedSignature): void {
  expect(parsed.scheme).toBe('rfc9421');
  expect(typeof parsed.keyId).toBe('string');
  expect(parsed.keyId).not.toBe('');
  expect(Number.isInteger(parsed.created)).toBe(true);
  expect([undefined, 'hmac-sha256', 'ed25519']).toContain(parsed.algorithm);
  expect(parsed.verify(HMAC)).toBe(false);
}

describe('parseRfc9421Signatures (fast-check, fixed seeds)', () => {
  it('answers arbitrary Signature-Input and Signature text with signatures or the typed error', () => {
    const text = fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 30 }), dictionary(innerList));
    fc.assert(
      fc.property(
        fc.oneof(text, fc.array(text, { maxLength: 2 })),
        fc.oneof(fc.string(), dictionary(signatureValue)),
        (input, signature) => {
          const outcome = attempt(() => parseRfc9421Signatures({ 'signature-input': input, signature }));
          if ('value' in outcome) {
            for (const entry of outcome.value as Rfc9421Signature[]) {
              expect(typeof entry.label).toBe('string');
              expect(Array.isArray(entry.input[0])).toBe(true);
              expect(entry.input[1]).toBeInstanceOf(Map);
              expect(Buffer.isBuffer(entry.signature)).toBe(true);
            }
          }
        },
      ),
      { seed: 9421, numRuns: 500 },
    );
  });

  it('serialises @signature-params so that parsing it again gives the same text', () => {
    fc.assert(
      fc.property(dictionary(innerList), (input) => {
        let members;
        try {
          members = parseDictionary(input);
        } catch {
          return; // Not a dictionary: refused above.
        }
        for (const [, member] of members) {
          if (!Array.isArray(member[0])) continue;
          const text = rfc9421SignatureParams(member as Parameters<typeof serializeInnerList>[0]);
          const again = parseDictionary(`sig=${text}`).get('sig')!;
          expect(serializeInnerList(again as Parameters<typeof serializeInnerList>[0])).toBe(text);
        }
      }),
      { seed: 9422, numRuns: 250 },
    );
  });
});

describe('parseRfc9421 (fast-check, fixed seeds)', () => {
  it('answers near-valid signatures (any components, parameters, algorithms) with a result or the typed error', () => {
    fc.assert(
      fc.property(request, dictionary(innerList), dictionary(signatureValue), (r, input, signature) => {
        const outcome = attempt(() => parseRfc9421(requestOf(r, input, signature), OPTIONS));
        if ('value' in outcome) expectParsedShape(outcome.value);
      }),
      { seed: 9423, numRuns: 500 },
    );
  });

  it('answers a well-formed signature over random components and parameters with a result or the typed error', () => {
    const covered = fc.uniqueArray(fc.tuple(componentName, params), { maxLength: 6, selector: ([name]) => name });
    const alg = fc.option(
      fc.oneof(
        fc.constantFrom('hmac-sha256', 'ed25519', 'rsa-pss-sha512', 'constructor', '__proto__', 'toString'),
        fc.string({ maxLength: 6 }),
      ),
    );
    fc.assert(
      fc.property(
        request,
        fc.constantFrom('@method', '@path', '@authority', '@query'),
        covered,
        alg,
        fc.oneof(fc.integer({ min: -1, max: 2e9 }), fc.constant(999_999_999_999_999)),
        fc.string({ maxLength: 6 }),
        (r, first, rest, algorithm, created, keyid) => {
          const components = [
            `"${first}"`,
            '"@method" "@path" "@authority" "@query"'.replace(`"${first}"`, ''),
            ...rest.map(([name, p]) => `${JSON.stringify(name)}${p}`),
          ].join(' ');
          const quoted = (text: string) => `"${text.replace(/[\\"]/g, '\\$&')}"`;
          const parameters = `;created=${created};keyid=${quoted(keyid)}${algorithm === null ? '' : `;alg=${quoted(algorithm)}`}`;
          const outcome = attempt(() =>
            parseRfc9421(requestOf(r, `sig1=(${components})${parameters}`, 'sig1=:AAAA:'), OPTIONS),
          );
          if ('value' in outcome) {
            expectParsedShape(outcome.value);
            expect(outcome.value.created).toBe(created);
            expect(outcome.value.keyId).toBe(keyid);
          }
          if (algorithm !== null && !['hmac-sha256', 'ed25519'].includes(algorithm) && 'value' in outcome) {
            throw new Error(`alg ${algorithm} was accepted`);
          }
        },
      ),
      { seed: 9424, numRuns: 400 },
    );
  });

  it('refuses an alg that names a property of Object.prototype (regression)', () => {
    for (const alg of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(() => rfc9421Algorithm(alg)).toThrow(expect.objectContaining({ reason: 'unsupported_algorithm' }));
    }
    const headers = {
      host: 'example.com',
      'signature-input': 'sig1=("@method" "@path" "@authority");created=1;keyid="k";alg="constructor"',
      signature: 'sig1=:AAAA:',
    };
    expect(() =>
      parseRfc9421({ method: 'GET', path: '/', query: '', headers, body: Buffer.alloc(0) }, OPTIONS),
    ).toThrow(expect.objectContaining({ reason: 'unsupported_algorithm' }));
  });

  it('refuses a covered header named like a property of Object.prototype as missing (regression)', () => {
    for (const name of ['constructor', '__proto__']) {
      const headers = {
        host: 'example.com',
        'signature-input': `sig1=("@method" "@path" "@authority" "${name}");created=1;keyid="k"`,
        signature: 'sig1=:AAAA:',
      };
      const run = () => parseRfc9421({ method: 'GET', path: '/', query: '', headers, body: Buffer.alloc(0) }, OPTIONS);
      expect(run).toThrow(SignatureVerificationError);
      expect(run).toThrow(expect.objectContaining({ reason: 'missing_header' }));
    }
  });
});

describe('RFC 9421 derived components (fast-check, fixed seeds)', () => {
  it('compute @path, @query, @request-target and @query-param from raw garbage or refuse with the typed error', () => {
    const derived = fc.oneof(
      fc.constantFrom('"@path"', '"@query"', '"@request-target"', '"@target-uri"', '"@authority"', '"@scheme"'),
      fc
        .oneof(fc.stringMatching(/^[\x20-\x7e]{0,4}$/), fc.constantFrom('a', '%zz', 'a%20b', 'a+b', '%EF%BF%BD'))
        .map((name) => `"@query-param";name="${name.replace(/[\\"]/g, '\\$&')}"`),
    );
    fc.assert(
      fc.property(
        request,
        fc.uniqueArray(derived, { minLength: 1, maxLength: 4 }),
        fc.constantFrom('http', 'https', 'HTTPS', 'ftp'),
        (r, components, scheme) => {
          const input = parseDictionary(`sig=(${components.join(' ')});created=1`).get('sig')!;
          const outcome = attempt(() =>
            rfc9421SignatureBase(
              { method: 'GET', path: r.path, query: r.query, scheme, headers: requestOf(r, '', '').headers },
              input as Parameters<typeof rfc9421SignatureBase>[1],
            ),
          );
          if ('value' in outcome) {
            const lines = outcome.value.split('\n');
            expect(lines).toHaveLength(components.length + 1);
            expect(lines[lines.length - 1]).toMatch(/^"@signature-params": \(/);
            if (components.includes('"@path"')) expect(lines).toContain(`"@path": ${r.path === '' ? '/' : r.path}`);
            if (components.includes('"@query"')) expect(lines).toContain(`"@query": ?${r.query}`);
          }
        },
      ),
      { seed: 9425, numRuns: 400 },
    );
  });
});

describe('checkContentDigest (fast-check, fixed seeds)', () => {
  it('answers arbitrary field text with one of its four verdicts', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          dictionary(signatureValue),
          fc.constantFrom('sha-256=:AA==:', 'sha-512=:x:', 'SHA-256=:AA==:'),
        ),
        fc.uint8Array({ maxLength: 16 }),
        (field, bytes) => {
          expect(['match', 'mismatch', 'unsupported', 'malformed']).toContain(checkContentDigest(field, bytes));
        },
      ),
      { seed: 9530, numRuns: 500 },
    );
  });

  it('matches the digest of the same body and no other', () => {
    const algorithms = fc.subarray(['sha-256', 'sha-512'] as const, { minLength: 1 });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), algorithms, (a, b, which) => {
        expect(checkContentDigest(contentDigest(a, which), a)).toBe('match');
        expect(checkContentDigest(contentDigest(a, which), b)).toBe(Buffer.from(a).equals(b) ? 'match' : 'mismatch');
      }),
      { seed: 9531, numRuns: 200 },
    );
  });
});
