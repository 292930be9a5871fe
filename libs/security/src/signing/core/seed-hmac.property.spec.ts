import fc from 'fast-check';
import { parseSeedSignature, seedSignature, seedStringToSign } from './seed-hmac.js';
import { SignatureVerificationError, type HeaderValue, type ParsedSignature } from './signed-request.types.js';

const OPTIONS = { sigv4: { region: 'us-east-1', service: 'demo' } };
const SECRET = Buffer.from('seed secret');

/** The parsed signature, or the typed error; any other throw fails the property. */
function parse(headers: Record<string, HeaderValue>, query = ''): ParsedSignature | SignatureVerificationError {
  try {
    return parseSeedSignature({ method: 'GET', path: '/items', query, headers, body: Buffer.alloc(0) }, OPTIONS);
  } catch (error) {
    expect(error).toBeInstanceOf(SignatureVerificationError);
    return error as SignatureVerificationError;
  }
}

const keyId = fc.stringMatching(/^[A-Za-z0-9._~+/=-]{1,20}$/);
const timestamp = fc.nat({ max: 4_102_444_800 }).map(String);
const nonce = fc.stringMatching(/^[A-Za-z0-9_-]{16,40}$/);
const headerName = fc.oneof(
  fc.stringMatching(/^[a-z0-9-]{1,8}$/),
  fc.constantFrom('host', 'content-type', 'constructor', '__proto__', 'tostring', 'x-signature', 'Host', 'a b', ''),
);

describe('parseSeedSignature (fast-check, fixed seeds)', () => {
  it('answers any X-Signed-Headers list (odd names included) with a result or the typed error', () => {
    fc.assert(
      fc.property(
        fc.array(headerName, { maxLength: 5 }),
        fc.constantFrom(';', ' ;', ','),
        fc.dictionary(fc.stringMatching(/^[a-z-]{1,6}$/), fc.string({ maxLength: 6 }), { maxKeys: 3 }),
        keyId,
        timestamp,
        nonce,
        (names, separator, extra, id, ts, n) => {
          const headers: Record<string, HeaderValue> = {
            ...extra,
            host: 'api.example',
            'x-key-id': id,
            'x-timestamp': ts,
            'x-nonce': n,
            'x-signed-headers': ['host', ...names].join(separator),
            'x-signature': '0'.repeat(64),
          };
          const outcome = parse(headers);
          if (!(outcome instanceof SignatureVerificationError)) {
            expect(outcome.coveredHeaders).toEqual(['host', ...names]);
            for (const name of outcome.coveredHeaders) expect(Object.hasOwn(headers, name)).toBe(true);
            expect(outcome.verify({ algorithm: 'hmac-sha256', secret: SECRET })).toBe(false);
          }
        },
      ),
      { seed: 100, numRuns: 400 },
    );
  });

  it('refuses a signed header named like a property of Object.prototype as missing (regression)', () => {
    const headers = {
      host: 'api.example',
      'x-key-id': 'key-1',
      'x-timestamp': '1767268800',
      'x-nonce': 'nonce-nonce-nonce-1',
      'x-signature': '0'.repeat(64),
    };
    for (const name of ['constructor', '__proto__']) {
      const outcome = parse({ ...headers, 'x-signed-headers': `host;${name}` });
      expect(outcome).toBeInstanceOf(SignatureVerificationError);
      expect((outcome as SignatureVerificationError).reason).toBe('missing_header');
    }
  });

  it('answers arbitrary values of each seed header with a result or the typed error', () => {
    const text = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary', maxLength: 10 }),
      fc.constantFrom('9'.repeat(13), '-1', '1e3', ' 12 ', 'host', 'host;host', 'A'.repeat(64), '0'.repeat(63)),
    );
    const value = fc.oneof(
      { weight: 4, arbitrary: text },
      { weight: 1, arbitrary: fc.array(text, { minLength: 1, maxLength: 2 }) },
    );
    fc.assert(
      fc.property(
        fc.record(
          {
            'x-key-id': fc.oneof(keyId, value),
            'x-timestamp': fc.oneof(timestamp, value),
            'x-nonce': fc.oneof(nonce, value),
            'x-signed-headers': fc.oneof(fc.constant('host'), value),
            'x-signature': fc.oneof(fc.constant('ab'.repeat(32)), value),
            host: value,
          },
          { requiredKeys: ['x-signature'] },
        ),
        (headers) => {
          const outcome = parse(headers);
          if (!(outcome instanceof SignatureVerificationError)) {
            expect(outcome.scheme).toBe('hmac-sha256');
            expect(outcome.created).toBe(Number(String(headers['x-timestamp']).trim()));
            expect(outcome.replayId).toBe(String(headers['x-nonce']).trim());
            expect(Number.isSafeInteger(outcome.created)).toBe(true);
          }
        },
      ),
      { seed: 101, numRuns: 500 },
    );
  });

  it('signs a string that changes whenever a signed part changes', () => {
    const part = fc.constantFrom('method', 'path', 'query', 'timestamp', 'nonce', 'keyId', 'body', 'header');
    fc.assert(
      fc.property(keyId, timestamp, nonce, fc.string({ maxLength: 8 }), part, (id, ts, n, value, which) => {
        const base = {
          method: 'GET',
          path: '/items',
          query: 'a=1',
          headers: { host: 'api.example', 'x-custom': value },
          signedHeaders: ['host', 'x-custom'],
          timestamp: ts,
          nonce: n,
          keyId: id,
          body: new Uint8Array(0),
        };
        const changed = {
          ...base,
          ...(which === 'method' ? { method: 'POST' } : {}),
          ...(which === 'path' ? { path: '/items/' } : {}),
          ...(which === 'query' ? { query: 'a=2' } : {}),
          ...(which === 'timestamp' ? { timestamp: `${ts}0` } : {}),
          ...(which === 'nonce' ? { nonce: `${n}x` } : {}),
          ...(which === 'keyId' ? { keyId: `${id}x` } : {}),
          ...(which === 'body' ? { body: Uint8Array.of(0) } : {}),
          ...(which === 'header' ? { headers: { ...base.headers, 'x-custom': `${value}!` } } : {}),
        };
        const [a, b] = [seedStringToSign(base), seedStringToSign(changed)];
        expect(a).not.toBe(b);
        expect(seedSignature(SECRET, a)).not.toBe(seedSignature(SECRET, b));
      }),
      { seed: 102, numRuns: 200 },
    );
  });
});
