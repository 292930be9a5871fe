import { generateKeyPairSync } from 'node:crypto';
import { parseSeedSignature, seedSignature, seedStringToSign } from './seed-hmac.js';
import { SignatureVerificationError, type SignedRequestInput } from './signed-request.types.js';

// A worked example of the seed scheme (DESIGN.md). The string to sign and the signature were computed outside
// this code: `printf ... | openssl dgst -sha256 -hmac 'secret-secret-secret-secret-secret-12345'`.
const SECRET = 'secret-secret-secret-secret-secret-12345';
const BODY = Buffer.from('{"amount":100}', 'utf8');
const STRING_TO_SIGN = [
  'POST',
  '/payments/a%20b',
  'a=1&a=~&b=%2F&c=a%2Bb',
  'host:api.example.com',
  'content-type:application/json; charset=utf-8',
  'host;content-type',
  '1700000000',
  'abcdefghijklmnop_-12',
  'NAS0000000000000TEST',
  '4d4bbe59c6aad22442cde199a6a8a5f034405fcd78fb5a81c24ef249de1c45f1',
].join('\n');
const SIGNATURE = '1b7bb284e55c96b2c7498f240b5ff37b0309a1473be1be0ac8a10762b69ee248';
const MATERIAL = { algorithm: 'hmac-sha256', secret: Buffer.from(SECRET, 'utf8') } as const;
const OPTIONS = { sigv4: { region: 'us-east-1', service: 'demo' } };

function example(headers: Record<string, string | undefined> = {}, changes: Partial<SignedRequestInput> = {}) {
  return {
    method: 'post',
    path: '/payments/a%20b',
    query: 'c=a%2Bb&b=%2f&a=%7E&a=1',
    headers: {
      host: 'api.example.com',
      'content-type': '  application/json;   charset=utf-8 ',
      'x-key-id': 'NAS0000000000000TEST',
      'x-timestamp': '1700000000',
      'x-nonce': 'abcdefghijklmnop_-12',
      'x-signed-headers': 'host;content-type',
      'x-signature': SIGNATURE,
      ...headers,
    },
    body: BODY,
    ...changes,
  } satisfies SignedRequestInput;
}

function reason(input: SignedRequestInput, requiredHeaders?: string[]): string {
  try {
    parseSeedSignature(input, { ...OPTIONS, ...(requiredHeaders ? { requiredHeaders } : {}) });
    return 'accepted';
  } catch (error) {
    return (error as SignatureVerificationError).reason;
  }
}

describe('seedStringToSign', () => {
  it('builds the lines of DESIGN.md: method, path as sent, canonical query, headers, list, time, nonce, key, body hash', () => {
    const input = example();
    expect(
      seedStringToSign({
        ...input,
        signedHeaders: ['host', 'content-type'],
        timestamp: '1700000000',
        nonce: 'abcdefghijklmnop_-12',
        keyId: 'NAS0000000000000TEST',
      }),
    ).toBe(STRING_TO_SIGN);
  });

  it('signs with HMAC-SHA256 in lower-case hex', () => {
    expect(seedSignature(SECRET, STRING_TO_SIGN)).toBe(SIGNATURE);
  });
});

describe('parseSeedSignature', () => {
  it('parses and verifies the example', () => {
    const parsed = parseSeedSignature(example(), OPTIONS);
    expect(parsed).toMatchObject({
      scheme: 'hmac-sha256',
      keyId: 'NAS0000000000000TEST',
      created: 1700000000,
      replayId: 'abcdefghijklmnop_-12',
      algorithm: 'hmac-sha256',
      coveredHeaders: ['host', 'content-type'],
    });
    expect(parsed.verify(MATERIAL)).toBe(true);
  });

  it('does not verify with another secret or an ed25519 key', () => {
    const parsed = parseSeedSignature(example(), OPTIONS);
    expect(parsed.verify({ algorithm: 'hmac-sha256', secret: Buffer.from(`${SECRET}x`) })).toBe(false);
    const { publicKey } = generateKeyPairSync('ed25519');
    expect(parsed.verify({ algorithm: 'ed25519', publicKey })).toBe(false);
  });

  it.each([
    ['method', { method: 'PUT' }],
    ['path', { path: '/payments/a%20c' }],
    ['query', { query: 'c=a%2Bb&b=%2f&a=%7E&a=2' }],
    ['query (%2B into +, which the app reads as a space)', { query: 'c=a+b&b=%2f&a=%7E&a=1' }],
    ['body', { body: Buffer.from('{"amount":1000}') }],
  ])('fails verification when the %s changes', (_, changes) => {
    expect(parseSeedSignature(example({}, changes), OPTIONS).verify(MATERIAL)).toBe(false);
  });

  it.each([
    ['a signed header', { 'content-type': 'text/plain' }],
    ['the timestamp', { 'x-timestamp': '1700000001' }],
    ['the nonce', { 'x-nonce': 'abcdefghijklmnop_-13' }],
    ['the key id', { 'x-key-id': 'NAS0000000000000TESU' }],
    ['the signed-header list', { 'x-signed-headers': 'host' }],
  ])('fails verification when %s changes', (_, headers) => {
    expect(parseSeedSignature(example(headers), OPTIONS).verify(MATERIAL)).toBe(false);
  });

  it('ignores whitespace differences in header values (trimmed, folded) and unsigned headers', () => {
    const input = example({ 'content-type': 'application/json; charset=utf-8', 'x-other': 'added' });
    expect(parseSeedSignature(input, OPTIONS).verify(MATERIAL)).toBe(true);
  });

  it.each([
    ['x-key-id', 'missing_header'],
    ['x-timestamp', 'missing_header'],
    ['x-nonce', 'missing_header'],
    ['x-signed-headers', 'missing_header'],
    ['x-signature', 'missing_header'],
    ['content-type', 'missing_header'],
  ])('refuses a request without %s', (name, expected) => {
    expect(reason(example({ [name]: undefined }))).toBe(expected);
  });

  it.each([
    ['a short nonce', { 'x-nonce': 'a'.repeat(15) }],
    ['a long nonce', { 'x-nonce': 'a'.repeat(129) }],
    ['a nonce with other characters', { 'x-nonce': 'abcdefghijklmnop.+' }],
    ['an upper-case signature', { 'x-signature': SIGNATURE.toUpperCase() }],
    ['a short signature', { 'x-signature': SIGNATURE.slice(2) }],
    ['a timestamp that is not unix seconds', { 'x-timestamp': '2023-11-14T22:13:20Z' }],
    ['upper-case signed header names', { 'x-signed-headers': 'Host;content-type' }],
    ['a repeated signed header', { 'x-signed-headers': 'host;host' }],
    ['an empty signed header name', { 'x-signed-headers': 'host;' }],
  ])('refuses %s as malformed', (_, headers) => {
    expect(reason(example(headers))).toBe('malformed');
  });

  it('accepts 16- and 128-character nonces', () => {
    expect(reason(example({ 'x-nonce': 'a'.repeat(16) }))).toBe('accepted');
    expect(reason(example({ 'x-nonce': 'A-_9'.repeat(32) }))).toBe('accepted');
  });

  it('needs host and the required headers signed', () => {
    expect(reason(example({ 'x-signed-headers': 'content-type' }))).toBe('header_not_signed');
    expect(reason(example(), ['digest'])).toBe('header_not_signed');
    expect(reason(example(), ['content-type'])).toBe('accepted');
  });
});
