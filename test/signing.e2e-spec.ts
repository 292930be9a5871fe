import { randomBytes } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import aws4 from 'aws4';
import { Clock, createSignedFetch, Principals, SigningKeys, type IssuedSigningKey } from '@app/security';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { createIdentity, type Identity } from './support/identities.js';
import {
  genericPart,
  rejectionOf,
  send,
  sha256,
  signed,
  SIGNING_MASTER_KEYS,
  SIGV4_SCOPE,
  type SignInput,
  type Signer,
  type WireRequest,
  type WireResponse,
} from './support/signing.js';

const actor = { label: 'test:signing' };
const PAYMENT = { amount: 12.5, currency: 'EUR', reference: 'invoice 42' };

/** The bodies the echo must hash byte for byte, whatever their content type. */
const BODIES: Array<{ name: string; method: string; type: string; body: Buffer }> = [
  { name: 'JSON', method: 'POST', type: 'application/json', body: Buffer.from('{ "b": 1,\n  "a": ["ü", 2.50] }') },
  { name: 'JSON (PUT)', method: 'PUT', type: 'application/json; charset=utf-8', body: Buffer.from('[1,2,3]') },
  {
    name: 'octet-stream',
    method: 'PUT',
    type: 'application/octet-stream',
    body: Buffer.concat([Buffer.from([0, 0xff, 0xfe, 0x80, 0x0d, 0x0a]), randomBytes(2048)]),
  },
  { name: 'text/plain', method: 'POST', type: 'text/plain', body: Buffer.from('hello\r\n  world ü \n') },
  { name: 'form', method: 'PATCH', type: 'application/x-www-form-urlencoded', body: Buffer.from('a=1&b=%20x&a=2') },
  // Not parsed by Express's JSON parser (application/json only): the raw-body capture must keep it.
  { name: 'merge-patch', method: 'PATCH', type: 'application/merge-patch+json', body: Buffer.from('{"a": null}') },
];

/**
 * Request signing end to end on the demo (`/signed/echo/*`, `POST /payments`): our client's three schemes,
 * the AWS SDK's signer and `aws4` accepted; tampering, stale or future timestamps, replays and unusable keys
 * refused with one generic 401 and a SIGNATURE_REJECTED event naming the precise reason.
 */
describe.each(ADAPTERS)('request signing over HTTP on %s', (adapter) => {
  let server: RunningDemo;
  let port: string;
  let editor: Identity;
  let hmacKey: IssuedSigningKey;
  let edKey: IssuedSigningKey;
  let signers: Signer[];
  let generic: Record<string, unknown>;

  beforeAll(async () => {
    server = await startDemo(adapter, { SIGNING_MASTER_KEYS });
    port = new URL(server.baseUrl).port;
    editor = await createIdentity(server.demo.app, ['editor']);
    const keys = server.demo.app.get(SigningKeys);
    hmacKey = await keys.create({ ownerId: editor.id, name: 'hmac' }, actor);
    edKey = await keys.create({ ownerId: editor.id, name: 'ed', algorithm: 'ed25519' }, actor);
    const hmac = { accessKeyId: hmacKey.accessKeyId, secret: hmacKey.secret! };
    signers = [
      { label: 'seed hmac', scheme: 'hmac-sha256', credentials: hmac },
      { label: 'SigV4', scheme: 'aws4-hmac-sha256', credentials: hmac },
      { label: 'RFC 9421 hmac', scheme: 'rfc9421', credentials: hmac },
      {
        label: 'RFC 9421 ed25519',
        scheme: 'rfc9421',
        credentials: { accessKeyId: edKey.accessKeyId, privateKey: edKey.privateKey! },
      },
    ];
    const unauthenticated = await send(server.baseUrl, { method: 'GET', target: '/signed/echo/x', headers: {} });
    expect(unauthenticated.status).toBe(401);
    generic = genericPart(unauthenticated);
  }, 60_000);
  afterAll(() => server?.close());

  const sign = (signer: Signer, input: SignInput) => signed(server.baseUrl, signer, input);
  const call = (request: WireRequest) => send(server.baseUrl, request);
  const accessKeyIdOf = (signer: Signer) => signer.credentials.accessKeyId;

  /** A 401 problem like any other 401, and its SIGNATURE_REJECTED event with the precise reason. */
  async function expectRefused(response: WireResponse, reason: string, what = reason): Promise<void> {
    expect(response.status, `${what}: ${response.body.toString()}`).toBe(401);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.headers['www-authenticate']).toContain('Signature');
    expect(genericPart(response), what).toEqual(generic);
    const event = await rejectionOf(server, response.requestId);
    expect(event, `${what}: no SIGNATURE_REJECTED event`).toBeDefined();
    expect(event!.outcome).toBe('denied');
    expect(event!.status).toBe(401);
    expect(event!.details.reason, what).toBe(reason);
  }

  function expectEcho(
    response: WireResponse,
    expected: { method: string; path: string; query: string; body?: Buffer; accessKeyId: string; scheme: string },
  ): void {
    expect(response.status, response.body.toString()).toBe(200);
    expect(response.json()).toEqual({
      method: expected.method,
      path: expected.path,
      query: expected.query,
      bodySha256: sha256(expected.body ?? ''),
      accessKeyId: expected.accessKeyId,
      scheme: expected.scheme,
    });
  }

  describe('our client (signRequest, createSignedFetch)', () => {
    it.each([0, 1, 2, 3])('accepts GET with repeated query keys and every body type (signer %i)', async (index) => {
      const signer = signers[index]!;
      const get = await call(sign(signer, { method: 'GET', target: '/signed/echo/a/b%20c?x=2&x=1&y=z&x=1' }));
      expectEcho(get, {
        method: 'GET',
        path: '/signed/echo/a/b%20c',
        query: 'x=2&x=1&y=z&x=1',
        accessKeyId: accessKeyIdOf(signer),
        scheme: signer.scheme,
      });
      for (const { name, method, type, body } of BODIES) {
        const target = `/signed/echo/${encodeURIComponent(name)}?k=v`;
        const response = await call(sign(signer, { method, target, headers: { 'content-type': type }, body }));
        expect(response.status, `${signer.label} ${name}: ${response.body.toString()}`).toBe(200);
        expectEcho(response, {
          method,
          path: `/signed/echo/${encodeURIComponent(name)}`,
          query: 'k=v',
          body,
          accessKeyId: accessKeyIdOf(signer),
          scheme: signer.scheme,
        });
      }
      const removed = await call(sign(signer, { method: 'DELETE', target: '/signed/echo/items/9' }));
      expectEcho(removed, {
        method: 'DELETE',
        path: '/signed/echo/items/9',
        query: '',
        accessKeyId: accessKeyIdOf(signer),
        scheme: signer.scheme,
      });
    });

    it.each([0, 1, 2, 3])('createSignedFetch is accepted (signer %i)', async (index) => {
      const signer = signers[index]!;
      const fetchSigned = createSignedFetch({ credentials: signer.credentials, scheme: signer.scheme, ...SIGV4_SCOPE });
      const get = await fetchSigned(`${server.baseUrl}/signed/echo/q?a=2&a=1`);
      expect(get.status).toBe(200);
      expect(await get.json()).toMatchObject({ path: '/signed/echo/q', query: 'a=2&a=1', scheme: signer.scheme });
      const body = JSON.stringify({ hello: 'wörld' });
      const post = await fetchSigned(`${server.baseUrl}/signed/echo/p`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(post.status).toBe(200);
      expect(await post.json()).toMatchObject({ method: 'POST', bodySha256: sha256(body), scheme: signer.scheme });
    });

    it('a signature authenticates on its own (GET /me); with an API key as well it is refused', async () => {
      for (const signer of signers) {
        const me = await call(sign(signer, { method: 'GET', target: '/me' }));
        expect(me.status, signer.label).toBe(200);
        expect(me.json()).toMatchObject({ principalId: editor.id, roles: ['editor'] });
      }
      const both = sign(signers[0]!, { method: 'GET', target: '/signed/echo/both' });
      const ambiguous = await call({ ...both, headers: { ...both.headers, 'x-api-key': editor.key } });
      expect(ambiguous.status).toBe(401);
      expect(genericPart(ambiguous)).toEqual(generic);
    });

    it('POST /payments: 201 when signed (each scheme), 401 with only an API key, 403 without payments:write', async () => {
      for (const signer of signers) {
        const body = JSON.stringify({ ...PAYMENT, reference: `pay ${signer.label}` });
        const idempotencyKey = `pay-${signer.label.replace(/\W/g, '-')}-${randomBytes(4).toString('hex')}`;
        const pay = (now = new Date()) =>
          call(
            sign(signer, {
              now,
              method: 'POST',
              target: '/payments',
              headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
              body,
              sign: ['idempotency-key'],
            }),
          );
        const created = await pay();
        expect(created.status, `${signer.label}: ${created.body.toString()}`).toBe(201);
        const payment = created.json();
        expect(payment).toMatchObject({ ...PAYMENT, reference: `pay ${signer.label}`, principalId: editor.id });
        // A retry, signed afresh with the same Idempotency-Key, answers the first payment. (A SigV4 signature
        // has no nonce: signed again within the same second, it is the same signature, refused as a replay.)
        const retried = await pay(new Date(Date.now() + 1_000));
        expect(retried.status).toBe(201);
        expect(retried.headers['idempotent-replayed']).toBe('true');
        expect(retried.json()).toEqual(payment);
      }

      const withKey = await call({
        method: 'POST',
        target: '/payments',
        headers: { 'content-type': 'application/json', 'x-api-key': editor.key },
        body: Buffer.from(JSON.stringify(PAYMENT)),
      });
      await expectRefused(withKey, 'signature_required', 'API key only');

      const viewer = await createIdentity(server.demo.app, ['viewer']);
      const viewerKey = await server.demo.app.get(SigningKeys).create({ ownerId: viewer.id }, actor);
      const forbidden = await call(
        sign(
          {
            label: 'viewer',
            scheme: 'hmac-sha256',
            credentials: { accessKeyId: viewerKey.accessKeyId, secret: viewerKey.secret! },
          },
          {
            method: 'POST',
            target: '/payments',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(PAYMENT),
          },
        ),
      );
      expect(forbidden.status).toBe(403);
    });
  });

  describe('tampering', () => {
    it.each([0, 1, 2, 3])('refuses a changed method, path, query, signed header or body (signer %i)', async (index) => {
      const signer = signers[index]!;
      const original = sign(signer, {
        method: 'POST',
        target: '/signed/echo/t?q=1&r=2',
        headers: { 'content-type': 'application/json', 'x-request-tag': 'alpha' },
        body: '{"amount":100}',
        sign: ['x-request-tag'],
      });
      const bodyReason = signer.scheme === 'hmac-sha256' ? 'bad_signature' : 'content_digest_mismatch';
      const tampered: Array<[string, WireRequest, string]> = [
        ['method', { ...original, method: 'PUT' }, 'bad_signature'],
        ['path', { ...original, target: '/signed/echo/u?q=1&r=2' }, 'bad_signature'],
        ['query', { ...original, target: '/signed/echo/t?q=1&r=3' }, 'bad_signature'],
        ['added query', { ...original, target: '/signed/echo/t?q=1&r=2&s=3' }, 'bad_signature'],
        ['header', { ...original, headers: { ...original.headers, 'x-request-tag': 'beta' } }, 'bad_signature'],
        ['host', { ...original, headers: { ...original.headers, host: `localhost:${port}` } }, 'bad_signature'],
        ['body', { ...original, body: Buffer.from('{"amount":900}') }, bodyReason],
      ];
      for (const [what, request, reason] of tampered) {
        await expectRefused(await call(request), reason, `${signer.label}: ${what}`);
      }
      // Forged requests do not use up the signature: the genuine one still passes, once.
      const genuine = await call(original);
      expect(genuine.status, genuine.body.toString()).toBe(200);
      // A header the signature does not cover may change.
      const unsignedHeader = sign(signer, { method: 'GET', target: '/signed/echo/h' });
      expect((await call({ ...unsignedHeader, headers: { ...unsignedHeader.headers, 'x-extra': 'y' } })).status).toBe(
        200,
      );
    });
  });

  describe('clock window (300 s)', () => {
    it.each([0, 1, 2, 3])('refuses 301 s old or ahead, accepts 299 s either way (signer %i)', async (index) => {
      const signer = signers[index]!;
      // The server's clock pinned on a whole second, so the 1 s margins are exact.
      const pinned = Math.floor(Date.now() / 1000) * 1000;
      const spy = vi.spyOn(server.demo.app.get(Clock), 'now').mockImplementation(() => pinned);
      try {
        const at = (offsetSeconds: number) =>
          call(
            sign(signer, { method: 'GET', target: '/signed/echo/clock', now: new Date(pinned + offsetSeconds * 1000) }),
          );
        await expectRefused(await at(-301), 'expired', `${signer.label}: 301 s old`);
        await expectRefused(await at(301), 'not_yet_valid', `${signer.label}: 301 s ahead`);
        expect((await at(-299)).status).toBe(200);
        expect((await at(299)).status).toBe(200);
        expect((await at(0)).status).toBe(200);
      } finally {
        spy.mockRestore();
      }
    });
  });

  describe('replays', () => {
    it.each([0, 1, 2, 3])('accepts a signed request once (signer %i)', async (index) => {
      const signer = signers[index]!;
      const request = sign(signer, {
        method: 'POST',
        target: '/signed/echo/once?x=1',
        headers: { 'content-type': 'text/plain' },
        body: 'pay me once',
      });
      expect((await call(request)).status).toBe(200);
      await expectRefused(await call(request), 'replayed', `${signer.label}: replay`);
      await expectRefused(await call(request), 'replayed', `${signer.label}: second replay`);
    });

    it.each([0, 2, 3])('refuses a nonce used again in a new signature (signer %i)', async (index) => {
      const signer = signers[index]!;
      const nonce = `nonce-${randomBytes(12).toString('hex')}`;
      const first = sign(signer, { method: 'GET', target: '/signed/echo/n', nonce });
      const second = sign(signer, { method: 'GET', target: '/signed/echo/m', nonce, now: new Date(Date.now() + 1000) });
      expect((await call(first)).status).toBe(200);
      await expectRefused(await call(second), 'replayed', `${signer.label}: nonce reused`);
    });
  });

  describe('keys', () => {
    it('refuses a revoked key, an unknown key id, and a key of the wrong algorithm', async () => {
      const keys = server.demo.app.get(SigningKeys);
      const doomed = await keys.create({ ownerId: editor.id, name: 'doomed' }, actor);
      const doomedSigner: Signer = {
        label: 'doomed',
        scheme: 'hmac-sha256',
        credentials: { accessKeyId: doomed.accessKeyId, secret: doomed.secret! },
      };
      expect((await call(sign(doomedSigner, { method: 'GET', target: '/signed/echo/k' }))).status).toBe(200);
      await keys.revoke(doomed.accessKeyId, actor);
      for (const scheme of ['hmac-sha256', 'aws4-hmac-sha256', 'rfc9421'] as const) {
        const response = await call(sign({ ...doomedSigner, scheme }, { method: 'GET', target: '/signed/echo/k' }));
        await expectRefused(response, 'revoked_key', `revoked, ${scheme}`);
      }

      const unknown: Signer = {
        label: 'unknown',
        scheme: 'hmac-sha256',
        credentials: { accessKeyId: 'NASAAAAAAAAAAAAAAAAA', secret: hmacKey.secret! },
      };
      for (const scheme of ['hmac-sha256', 'aws4-hmac-sha256', 'rfc9421'] as const) {
        const response = await call(sign({ ...unknown, scheme }, { method: 'GET', target: '/signed/echo/k' }));
        await expectRefused(response, 'unknown_key', `unknown, ${scheme}`);
      }

      // An ed25519 key id with an HMAC scheme: refused whatever secret the client made up.
      for (const scheme of ['hmac-sha256', 'aws4-hmac-sha256'] as const) {
        const response = await call(
          sign(
            { label: 'ed as hmac', scheme, credentials: { accessKeyId: edKey.accessKeyId, secret: 'made-up-secret' } },
            { method: 'GET', target: '/signed/echo/k' },
          ),
        );
        await expectRefused(response, 'algorithm_mismatch', `ed25519 key with ${scheme}`);
      }
      // Algorithm confusion: RFC 9421 `alg="hmac-sha256"` keyed with the ed25519 key's public key.
      const [view] = (await keys.list(editor.id)).filter((key) => key.accessKeyId === edKey.accessKeyId);
      const confused = await call(
        sign(
          {
            label: 'confused',
            scheme: 'rfc9421',
            credentials: { accessKeyId: edKey.accessKeyId, secret: view!.publicKey! },
          },
          { method: 'GET', target: '/signed/echo/k' },
        ),
      );
      await expectRefused(confused, 'algorithm_mismatch', 'RFC 9421 hmac over the public key');
    });

    it('applies a role taken away at once, and refuses the keys of a disabled principal', async () => {
      const app = server.demo.app;
      const person = await createIdentity(app, ['editor']);
      const key = await app.get(SigningKeys).create({ ownerId: person.id }, actor);
      const signer: Signer = {
        label: 'person',
        scheme: 'rfc9421',
        credentials: { accessKeyId: key.accessKeyId, secret: key.secret! },
      };
      const pay = () =>
        call(
          sign(signer, {
            method: 'POST',
            target: '/payments',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(PAYMENT),
          }),
        );
      expect((await pay()).status).toBe(201);
      await app.get(Principals).revokeRole(person.id, 'editor', actor);
      expect((await pay()).status).toBe(403);
      await app.get(Principals).disable(person.id, actor);
      await expectRefused(await pay(), 'revoked_key', 'disabled principal');
    });
  });

  describe('AWS signers', () => {
    const cases = [
      { name: 'GET with repeated query keys', method: 'GET', path: '/signed/echo/list', query: 'x=2&x=1&y=z&a=' },
      {
        name: 'PUT with a JSON body',
        method: 'PUT',
        path: '/signed/echo/items/7',
        query: '',
        body: '{"name": "seven", "tags": ["a", "b"]}',
      },
      { name: 'a path containing %20', method: 'GET', path: '/signed/echo/a%20b/c%20d.txt', query: 'q=a%20b' },
    ];

    /** Sends a request an AWS signer signed and checks the echo names it as SigV4 with our key. */
    const expectAwsEcho = async (
      { method, path, query, body }: { method: string; path: string; query: string; body?: string },
      target: string,
      headers: Record<string, string>,
    ) => {
      const bytes = body === undefined ? {} : { body: Buffer.from(body) };
      const response = await call({ method, target, headers, ...bytes });
      expectEcho(response, {
        method,
        path,
        query,
        ...bytes,
        accessKeyId: hmacKey.accessKeyId,
        scheme: 'aws4-hmac-sha256',
      });
    };

    it.each(cases)('@smithy/signature-v4: $name', async ({ method, path, query, body }) => {
      const signer = new SignatureV4({
        credentials: { accessKeyId: hmacKey.accessKeyId, secretAccessKey: hmacKey.secret! },
        ...SIGV4_SCOPE,
        sha256: Hash.bind(null, 'sha256'),
      });
      const queryObject: Record<string, string | string[]> = {};
      for (const [name, value] of new URLSearchParams(query)) {
        const existing = queryObject[name];
        queryObject[name] = existing === undefined ? value : [...[existing].flat(), value];
      }
      const request = new HttpRequest({
        method,
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: Number(port),
        path,
        query: queryObject,
        headers: {
          host: `127.0.0.1:${port}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body }),
      });
      const signedRequest = await signer.sign(request);
      const target = `${path}${query ? `?${query}` : ''}`;
      await expectAwsEcho({ method, path, query, body }, target, signedRequest.headers as Record<string, string>);
    });

    it.each(cases)('aws4: $name', async ({ method, path, query, body }) => {
      const target = `${path}${query ? `?${query}` : ''}`;
      const options = aws4.sign(
        {
          host: `127.0.0.1:${port}`,
          path: target,
          method,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body }),
          ...SIGV4_SCOPE,
        },
        { accessKeyId: hmacKey.accessKeyId, secretAccessKey: hmacKey.secret! },
      );
      const headers = Object.fromEntries(Object.entries(options.headers ?? {}).map(([k, v]) => [k, String(v)]));
      await expectAwsEcho({ method, path, query, body }, options.path ?? target, headers);
      // ... once.
      await expectRefused(
        await call({ method, target, headers, ...(body ? { body: Buffer.from(body) } : {}) }),
        'replayed',
      );
    });
  });
});
