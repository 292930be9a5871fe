import { generateKeyPairSync } from 'node:crypto';
import { parseSignedRequest } from '../core/signed-request.js';
import type { SignatureScheme, SignedRequestInput, SigningKeyMaterial } from '../core/signed-request.types.js';
import { signRequest, type SignableRequest, type SigningCredentials } from './sign-request.js';

const OPTIONS = { sigv4: { region: 'us-east-1', service: 'demo' } };
const SECRET = 'Q7v0m2d8GfXk3LzP9sTb1NcRw4YhJe6UaV5iKoE0';
const HMAC: SigningCredentials = { accessKeyId: 'NAS00000000000000001', secret: SECRET };
const HMAC_MATERIAL: SigningKeyMaterial = { algorithm: 'hmac-sha256', secret: Buffer.from(SECRET, 'utf8') };
const NOW = new Date('2026-01-02T03:04:05Z');

/** What the server sees of a request sent to `url` with the signed headers. */
function received(request: SignableRequest, added: Record<string, string>): SignedRequestInput {
  const url = new URL(request.url);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...request.headers, ...added })) headers[name.toLowerCase()] = value;
  return {
    method: request.method.toUpperCase(),
    path: url.pathname,
    query: url.search.slice(1),
    headers,
    body: Buffer.from(request.body ?? ''),
  };
}

const REQUEST: SignableRequest = {
  method: 'post',
  url: 'https://api.example.com:8443/signed/echo/a%20b/c?z=1&a=2&a=1&q=x+y',
  headers: { 'Content-Type': 'application/json', 'X-Tenant': 'acme' },
  body: '{"amount":100,"currency":"EUR","reference":"r-1"}',
};

const SCHEMES: [SignatureScheme, SigningCredentials, SigningKeyMaterial][] = [
  ['hmac-sha256', HMAC, HMAC_MATERIAL],
  ['aws4-hmac-sha256', HMAC, HMAC_MATERIAL],
  ['rfc9421', HMAC, HMAC_MATERIAL],
];
const ed = generateKeyPairSync('ed25519');
SCHEMES.push([
  'rfc9421',
  { accessKeyId: 'NAS00000000000000002', privateKey: ed.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string },
  { algorithm: 'ed25519', publicKey: ed.publicKey },
]);

describe.each(SCHEMES)('signRequest -> parseSignedRequest -> verify (%s)', (scheme, credentials, material) => {
  const sign = (request: SignableRequest) =>
    signRequest(request, credentials, {
      scheme,
      now: NOW,
      region: 'us-east-1',
      service: 'demo',
      headers: ['x-tenant'],
    });
  const parse = (input: SignedRequestInput) => parseSignedRequest(input, OPTIONS);

  it('round-trips: the server accepts what the client signed', () => {
    const input = received(REQUEST, sign(REQUEST));
    const parsed = parse(input);
    expect(parsed.scheme).toBe(scheme);
    expect(parsed.keyId).toBe(credentials.accessKeyId);
    expect(parsed.created).toBe(NOW.getTime() / 1000);
    expect(parsed.coveredHeaders).toEqual(expect.arrayContaining(['content-type', 'x-tenant']));
    expect(parsed.verify(material)).toBe(true);
  });

  it('round-trips without a body, query or content type', () => {
    const request = { method: 'GET', url: 'http://127.0.0.1:3000/me' };
    const added = signRequest(request, credentials, { scheme, now: NOW, region: 'us-east-1', service: 'demo' });
    expect(added.host).toBe('127.0.0.1:3000');
    expect(parse(received(request, added)).verify(material)).toBe(true);
  });

  it('fails with another key', () => {
    const parsed = parse(received(REQUEST, sign(REQUEST)));
    const other: SigningKeyMaterial =
      material.algorithm === 'ed25519'
        ? { algorithm: 'ed25519', publicKey: generateKeyPairSync('ed25519').publicKey }
        : { algorithm: 'hmac-sha256', secret: Buffer.from(`${SECRET}!`) };
    expect(parsed.verify(other)).toBe(false);
  });

  it.each([
    ['method', (input: SignedRequestInput) => ({ ...input, method: 'PUT' })],
    ['path', (input: SignedRequestInput) => ({ ...input, path: '/signed/echo/a%20b/d' })],
    ['query', (input: SignedRequestInput) => ({ ...input, query: `${input.query}&extra=1` })],
    ['query value', (input: SignedRequestInput) => ({ ...input, query: input.query.replace('z=1', 'z=2') })],
    ['header', (input: SignedRequestInput) => ({ ...input, headers: { ...input.headers, 'x-tenant': 'other' } })],
    [
      'content type',
      (input: SignedRequestInput) => ({ ...input, headers: { ...input.headers, 'content-type': 'text/plain' } }),
    ],
    [
      'body',
      (input: SignedRequestInput) => ({
        ...input,
        body: Buffer.from('{"amount":999,"currency":"EUR","reference":"r-1"}'),
      }),
    ],
  ])('refuses a tampered %s', (_, tamper) => {
    const input = tamper(received(REQUEST, sign(REQUEST)));
    let verified: boolean;
    try {
      verified = parse(input).verify(material);
    } catch {
      verified = false; // refused before the signature check (e.g. the body digest)
    }
    expect(verified).toBe(false);
  });
});

describe('signRequest details', () => {
  it('seed: signs host and content-type, with a fresh nonce each time', () => {
    const a = signRequest(REQUEST, HMAC, { scheme: 'hmac-sha256', now: NOW });
    const b = signRequest(REQUEST, HMAC, { scheme: 'hmac-sha256', now: NOW });
    expect(a['x-signed-headers']).toBe('host;content-type');
    expect(a['x-timestamp']).toBe('1767323045');
    expect(a['x-nonce']).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(a['x-nonce']).not.toBe(b['x-nonce']);
    expect(a['x-signature']).toMatch(/^[0-9a-f]{64}$/);
  });

  it('seed: a given nonce gives a deterministic signature', () => {
    const options = { scheme: 'hmac-sha256', now: NOW, nonce: 'nonce-nonce-nonce-1' } as const;
    expect(signRequest(REQUEST, HMAC, options)).toEqual(signRequest(REQUEST, HMAC, options));
    expect(() => signRequest(REQUEST, HMAC, { ...options, nonce: 'short' })).toThrow(TypeError);
  });

  it('SigV4: adds x-amz-date and x-amz-content-sha256 and signs them, as the AWS SDK does', () => {
    const added = signRequest(REQUEST, HMAC, {
      scheme: 'aws4-hmac-sha256',
      now: NOW,
      region: 'us-east-1',
      service: 'demo',
    });
    expect(added['x-amz-date']).toBe('20260102T030405Z');
    expect(added['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(added.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=NAS00000000000000001\/20260102\/us-east-1\/demo\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
    );
    expect(() => signRequest(REQUEST, HMAC, { scheme: 'aws4-hmac-sha256' })).toThrow(/region and service/);
  });

  it('RFC 9421: covers method, authority, path, query, the body digest and content-type', () => {
    const added = signRequest(REQUEST, HMAC, { scheme: 'rfc9421', now: NOW, nonce: 'n-0123456789abcdef' });
    expect(added['content-digest']).toBe('sha-256=:Ysm/TehK1nv17bOJwSlELa1+rX41k4Gce5dsNyh2Lf8=:');
    expect(added['signature-input']).toBe(
      'sig1=("@method" "@authority" "@path" "@query" "content-digest" "content-type");created=1767323045;keyid="NAS00000000000000001";nonce="n-0123456789abcdef";alg="hmac-sha256"',
    );
    expect(added.signature).toMatch(/^sig1=:[A-Za-z0-9+/]{43}=:$/);
  });

  it('refuses credentials that do not fit the scheme, and unknown extra headers', () => {
    const ed25519 = { accessKeyId: 'NAS2', privateKey: generateKeyPairSync('ed25519').privateKey };
    expect(() => signRequest(REQUEST, ed25519, { scheme: 'hmac-sha256' })).toThrow(/HMAC secret/);
    expect(() => signRequest(REQUEST, ed25519, { scheme: 'aws4-hmac-sha256', region: 'r', service: 's' })).toThrow(
      /HMAC secret/,
    );
    const ec = { accessKeyId: 'NAS3', privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey };
    expect(() => signRequest(REQUEST, ec, { scheme: 'rfc9421' })).toThrow(/Ed25519/);
    expect(() => signRequest(REQUEST, HMAC, { scheme: 'hmac-sha256', headers: ['x-missing'] })).toThrow(/x-missing/);
  });
});
