import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { signRequest, type SigningCredentials } from '../client/sign-request.js';
import {
  parseSignedRequest,
  SignatureVerificationError,
  type HeaderValue,
  type ParsedSignature,
  type SignatureScheme,
  type SignedRequestInput,
  type SigningKeyMaterial,
} from './signed-request.js';

const OPTIONS = { sigv4: { region: 'us-east-1', service: 'demo' } };
const SECRET = 'a shared secret';
const HMAC: SigningKeyMaterial = { algorithm: 'hmac-sha256', secret: Buffer.from(SECRET, 'utf8') };
const ED25519 = generateKeyPairSync('ed25519');
const ED25519_MATERIAL: SigningKeyMaterial = { algorithm: 'ed25519', publicKey: ED25519.publicKey };
const SIGNED_AT = new Date(Date.UTC(2026, 0, 1, 12, 0, 0));
const SCHEMES: readonly SignatureScheme[] = ['hmac-sha256', 'aws4-hmac-sha256', 'rfc9421'];

type Outcome = { parsed: ParsedSignature } | { error: SignatureVerificationError };

/** The parse result, or the typed error; any other throw fails the property. */
function parse(input: SignedRequestInput): Outcome {
  try {
    return { parsed: parseSignedRequest(input, OPTIONS) };
  } catch (error) {
    expect(error).toBeInstanceOf(SignatureVerificationError);
    return { error: error as SignatureVerificationError };
  }
}

/** Whether the request is refused: a typed error at parsing, or a signature that does not verify. */
function refused(input: SignedRequestInput, material: SigningKeyMaterial): boolean {
  const outcome = parse(input);
  if ('error' in outcome) return true;
  const verified = outcome.parsed.verify(material);
  expect(typeof verified).toBe('boolean');
  return !verified;
}

// Paths and queries as a client may write them; the request carries what `new URL` makes of them.
const pathText = fc
  .array(
    fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9._~-]{0,6}$/),
      fc.constantFrom('..', '.', '%2e%2e', 'a b', '%zz', '%', '%C0%AF', '\u00e9', '😀', '\ud800', ';x=1', '+'),
    ),
    { maxLength: 5 },
  )
  .map((segments) => `/${segments.join('/')}`);
const queryText = fc
  .array(
    fc.tuple(
      fc.oneof(fc.stringMatching(/^[a-z]{1,4}$/), fc.constantFrom('a+b', '%2B', '%', '%zz', 'é', '\ud800', '=')),
      fc.option(fc.oneof(fc.stringMatching(/^[A-Za-z0-9]{0,4}$/), fc.constantFrom('+', '%20', '%', ' ', '&&'))),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => pairs.map(([name, value]) => (value === null ? name : `${name}=${value}`)).join('&'));
// Header values as Node hands them over: latin1 text without line breaks.
const headerText = fc.string({ unit: fc.constantFrom(...'aZ09 \t,;="-/:\u00e9\u00ff'.split('')), maxLength: 12 });
const body = fc.oneof(
  fc.constant(Buffer.alloc(0)),
  fc.uint8Array({ minLength: 1, maxLength: 32 }).map((bytes) => Buffer.from(bytes)),
);

interface SignedCase {
  readonly scheme: SignatureScheme;
  readonly input: SignedRequestInput;
  readonly material: SigningKeyMaterial;
  readonly keyId: string;
  readonly nonce: string;
}

const signedCase: fc.Arbitrary<SignedCase> = fc
  .record({
    scheme: fc.constantFrom(...SCHEMES),
    ed25519: fc.boolean(),
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'patch'),
    path: pathText,
    query: queryText,
    custom: fc.option(headerText),
    contentType: fc.option(headerText),
    body,
    keyId: fc.stringMatching(/^[A-Za-z0-9]{1,20}$/),
    nonce: fc.stringMatching(/^[A-Za-z0-9_-]{16,40}$/),
  })
  .map((c) => {
    const url = new URL(`https://api.example${c.path}${c.query === '' ? '' : `?${c.query}`}`);
    const given: Record<string, string> = {};
    if (c.custom !== null) given['x-custom'] = c.custom;
    if (c.contentType !== null) given['content-type'] = c.contentType;
    const ed25519 = c.scheme === 'rfc9421' && c.ed25519;
    const credentials: SigningCredentials = ed25519
      ? { accessKeyId: c.keyId, privateKey: ED25519.privateKey }
      : { accessKeyId: c.keyId, secret: SECRET };
    const added = signRequest({ method: c.method, url, headers: given, body: c.body }, credentials, {
      scheme: c.scheme,
      now: SIGNED_AT,
      nonce: c.nonce,
      region: OPTIONS.sigv4.region,
      service: OPTIONS.sigv4.service,
      headers: c.custom === null ? [] : ['x-custom'],
    });
    return {
      scheme: c.scheme,
      input: {
        method: c.method.toUpperCase(),
        path: url.pathname,
        query: url.search.slice(1),
        headers: { ...given, ...added },
        body: c.body,
        scheme: 'https' as const,
      },
      material: ed25519 ? ED25519_MATERIAL : HMAC,
      keyId: c.keyId,
      nonce: c.nonce,
    };
  });

describe('parseSignedRequest (fast-check, fixed seeds)', () => {
  it('verifies every request signed by the client, whatever its path, query, headers and body', () => {
    fc.assert(
      fc.property(signedCase, ({ scheme, input, material, keyId, nonce }) => {
        const outcome = parse(input);
        if ('error' in outcome) throw outcome.error;
        const { parsed } = outcome;
        expect(parsed.scheme).toBe(scheme);
        expect(parsed.keyId).toBe(keyId);
        expect(parsed.created).toBe(SIGNED_AT.getTime() / 1000);
        if (scheme !== 'aws4-hmac-sha256') expect(parsed.replayId).toBe(nonce);
        expect(parsed.verify(material)).toBe(true);
        // Another key never verifies it.
        expect(parsed.verify({ algorithm: 'hmac-sha256', secret: Buffer.from('another secret') })).toBe(false);
      }),
      { seed: 4242, numRuns: 200 },
    );
  });

  it('refuses a signed request with its method, path, query, a signed header, body or key id changed', () => {
    const change = fc.constantFrom('method', 'path', 'query', 'header', 'body', 'keyId', 'host');
    fc.assert(
      fc.property(signedCase, change, headerText, ({ scheme, input, material, keyId }, what, text) => {
        const headers: Record<string, HeaderValue> = { ...input.headers };
        let changed: SignedRequestInput = input;
        switch (what) {
          case 'method':
            changed = { ...input, method: input.method === 'GET' ? 'HEAD' : 'GET' };
            break;
          case 'path':
            changed = { ...input, path: `${input.path}x` };
            break;
          case 'query':
            changed = { ...input, query: input.query === '' ? 'zz=1' : `${input.query}&zz=1` };
            break;
          case 'body':
            changed = { ...input, body: Buffer.concat([input.body, Buffer.of(0)]) };
            break;
          case 'host':
            changed = { ...input, headers: { ...headers, host: 'other.example' } };
            break;
          case 'header':
            // x-custom is signed when present; otherwise add a field whose value differs after folding.
            headers['x-custom'] = `${String(headers['x-custom'] ?? '').trim()}!${text}`;
            changed = { ...input, headers };
            fc.pre(input.headers['x-custom'] !== undefined);
            break;
          case 'keyId': {
            const replace = (value: HeaderValue) => String(value).split(keyId).join(`${keyId}X`);
            if (scheme === 'hmac-sha256') headers['x-key-id'] = `${keyId}X`;
            if (scheme === 'aws4-hmac-sha256') headers.authorization = replace(headers.authorization);
            if (scheme === 'rfc9421') headers['signature-input'] = replace(headers['signature-input']);
            changed = { ...input, headers };
            // SigV4 does not sign the access key id (its secret stands for it): another id looks up another key.
            const outcome = parse(changed);
            if (scheme === 'aws4-hmac-sha256' && 'parsed' in outcome) expect(outcome.parsed.keyId).not.toBe(keyId);
            if (scheme === 'aws4-hmac-sha256') return;
            break;
          }
        }
        expect(refused(changed, material)).toBe(true);
      }),
      { seed: 4243, numRuns: 200 },
    );
  });

  it('answers near-valid headers (dropped, repeated, replaced, padded, re-cased) with a result or the typed error', () => {
    const edit = fc.record({
      target: fc.nat(),
      how: fc.constantFrom('drop', 'repeat', 'replace', 'pad', 'upper', 'append', 'huge', 'truncate'),
      text: fc.oneof(headerText, fc.string(), fc.string({ unit: 'binary', maxLength: 8 })),
    });
    fc.assert(
      fc.property(signedCase, fc.array(edit, { minLength: 1, maxLength: 3 }), ({ input, material }, edits) => {
        const headers: Record<string, HeaderValue> = { ...input.headers };
        for (const { target, how, text } of edits) {
          const names = Object.keys(headers);
          if (names.length === 0) break;
          const name = names[target % names.length]!;
          const value = String(headers[name]);
          if (how === 'drop') delete headers[name];
          if (how === 'repeat') headers[name] = [value, text === '' ? value : text];
          if (how === 'replace') headers[name] = text;
          if (how === 'pad') headers[name] = ` \t${value}${text.replace(/\S/g, ' ')} `;
          if (how === 'upper') headers[name] = value.toUpperCase();
          if (how === 'append') headers[name] = value + text;
          if (how === 'huge') headers[name] = value.replace(/\d+/g, '9'.repeat(40));
          if (how === 'truncate') headers[name] = value.slice(0, target % (value.length + 1));
        }
        const outcome = parse({ ...input, headers });
        if ('parsed' in outcome) expect(typeof outcome.parsed.verify(material)).toBe('boolean');
      }),
      { seed: 4244, numRuns: 200 },
    );
  });

  it('answers arbitrary signature headers with the typed error', () => {
    const names = fc.constantFrom(
      'x-signature',
      'x-key-id',
      'x-timestamp',
      'x-nonce',
      'x-signed-headers',
      'authorization',
      'x-amz-date',
      'x-amz-content-sha256',
      'signature-input',
      'signature',
      'content-digest',
      'host',
      'constructor',
      '__proto__',
    );
    const value = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary', maxLength: 20 }),
      fc.constantFrom('AWS4-HMAC-SHA256', 'sig1=()', 'sig1=:AA==:', 'host;constructor', '0'.repeat(64)),
      fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
    );
    fc.assert(
      fc.property(
        fc.dictionary(names, value, { maxKeys: 8 }),
        fc.constantFrom('GET', 'post', ''),
        pathText,
        fc.oneof(queryText, fc.string()),
        body,
        (headers, method, path, query, payload) => {
          const outcome = parse({ method, path, query, headers, body: payload });
          if ('parsed' in outcome) {
            expect(SCHEMES).toContain(outcome.parsed.scheme);
            expect(outcome.parsed.verify(HMAC)).toBe(false);
          }
        },
      ),
      { seed: 4245, numRuns: 400 },
    );
  });
});
