import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseSignedRequest } from '../core/signed-request.js';
import { CertificatePinMismatchError, certificateSha256, createSignedFetch } from './signed-fetch.js';

// A self-signed certificate for 127.0.0.1 and localhost, made for this test only (valid until 2126):
// openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 36500 -subj /CN=localhost
//   -addext subjectAltName=DNS:localhost,IP:127.0.0.1
const CERT = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUDxaIaok+kZq+8wmnRVWNy1mK4ywwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyODAyMzMyN1oYDzIxMjYxMTA0
MDIzMzI3WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAT2paiwMyI790O3Rz+8u/BYgzagK4KBaBgUmbR1rnopr3pqwaZdpiA7
Kq6GVHzQrH1vWHHFbxSkqI8k6yN5yt9Jo28wbTAdBgNVHQ4EFgQUhwE70dn+WSrZ
x6tCQhtJ7+C/sl4wHwYDVR0jBBgwFoAUhwE70dn+WSrZx6tCQhtJ7+C/sl4wDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIhAKR8A8nZKo1ajTYkLdSADVYgveNU1qcSB3vPimqCEAhQAiBY
yfIvFGBB51WmCt8HGKvZaxRNXBsRZNrzHzGFme6KSQ==
-----END CERTIFICATE-----`;
const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg/Aw6a7DpTQ68K5S3
SiALkcnJjFTUAGpQWuAUD0TR/cyhRANCAAT2paiwMyI790O3Rz+8u/BYgzagK4KB
aBgUmbR1rnopr3pqwaZdpiA7Kq6GVHzQrH1vWHHFbxSkqI8k6yN5yt9J
-----END PRIVATE KEY-----`;
// `openssl x509 -noout -fingerprint -sha256` of CERT.
const CERT_SHA256 = '52:AC:B7:56:9A:F3:12:F8:2F:E7:22:8D:4F:F9:11:1B:70:8C:6E:5F:C7:34:05:C4:10:40:6D:A4:AD:AA:0B:92';
const OTHER_SHA256 = 'ab'.repeat(32);

const SECRET = 'Q7v0m2d8GfXk3LzP9sTb1NcRw4YhJe6UaV5iKoE0';
const credentials = { accessKeyId: 'NAS00000000000000001', secret: SECRET };
const material = { algorithm: 'hmac-sha256', secret: Buffer.from(SECRET, 'utf8') } as const;

let received = 0;
async function handler(request: IncomingMessage, response: ServerResponse): Promise<void> {
  received++;
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const target = request.url ?? '/';
  const q = target.indexOf('?');
  let verified = false;
  try {
    const parsed = parseSignedRequest(
      {
        method: request.method ?? 'GET',
        path: q === -1 ? target : target.slice(0, q),
        query: q === -1 ? '' : target.slice(q + 1),
        headers: request.headers,
        body: Buffer.concat(chunks),
      },
      { sigv4: { region: 'us-east-1', service: 'demo' } },
    );
    verified = parsed.verify(material);
  } catch {
    verified = false;
  }
  response.writeHead(verified ? 200 : 401, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ verified, path: target }));
}

const https = createHttpsServer({ cert: CERT, key: KEY }, (request, response) => void handler(request, response));
const http = createHttpServer((request, response) => void handler(request, response));
let httpsUrl = '';
let httpUrl = '';

beforeAll(async () => {
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  httpsUrl = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
  httpUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => https.close(resolve));
  await new Promise((resolve) => http.close(resolve));
});

beforeEach(() => {
  received = 0;
});

describe('createSignedFetch', () => {
  it('certificateSha256 is the openssl fingerprint of the DER certificate', () => {
    const der = Buffer.from(CERT.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    expect(certificateSha256(der)).toBe(CERT_SHA256.replace(/:/g, '').toLowerCase());
  });

  it.each(['hmac-sha256', 'aws4-hmac-sha256', 'rfc9421'] as const)(
    'sends requests the server verifies (%s, pinned)',
    async (scheme) => {
      const fetch = createSignedFetch({
        credentials,
        scheme,
        region: 'us-east-1',
        service: 'demo',
        pinnedSha256: CERT_SHA256,
        ca: CERT,
      });
      const response = await fetch(`${httpsUrl}/signed/echo/a%20b?z=1&a=2`, {
        method: 'post',
        headers: { 'content-type': 'application/json' },
        body: '{"amount":100}',
      });
      expect(response.status).toBe(200);
      expect(response.ok).toBe(true);
      expect(await response.json()).toEqual({ verified: true, path: '/signed/echo/a%20b?z=1&a=2' });
    },
  );

  it('refuses a certificate that is not pinned before sending the request', async () => {
    const fetch = createSignedFetch({ credentials, scheme: 'hmac-sha256', pinnedSha256: OTHER_SHA256, ca: CERT });
    await expect(fetch(`${httpsUrl}/payments`, { method: 'POST', body: '{}' })).rejects.toBeInstanceOf(
      CertificatePinMismatchError,
    );
    expect(received).toBe(0);
  });

  it('with rejectUnauthorized: false, the pin alone decides', async () => {
    const pinned = createSignedFetch({
      credentials,
      scheme: 'hmac-sha256',
      pinnedSha256: [OTHER_SHA256, CERT_SHA256.replace(/:/g, '').toLowerCase()],
      rejectUnauthorized: false,
    });
    expect((await pinned(`${httpsUrl}/me`)).status).toBe(200);
    const wrong = createSignedFetch({
      credentials,
      scheme: 'hmac-sha256',
      pinnedSha256: OTHER_SHA256,
      rejectUnauthorized: false,
    });
    await expect(wrong(`${httpsUrl}/me`)).rejects.toThrow(/is not pinned/);
    expect(received).toBe(1);
  });

  it('without a pin, trusts the CA as usual', async () => {
    const trusting = createSignedFetch({ credentials, scheme: 'rfc9421', ca: CERT });
    expect((await trusting(`${httpsUrl}/me`)).status).toBe(200);
    const untrusting = createSignedFetch({ credentials, scheme: 'rfc9421' });
    await expect(untrusting(`${httpsUrl}/me`)).rejects.toThrow(/self[- ]signed/i);
  });

  it('works over plain http, and refuses to pin there', async () => {
    const fetch = createSignedFetch({ credentials, scheme: 'hmac-sha256' });
    const response = await fetch(`${httpUrl}/me?x=1`);
    expect(await response.text()).toBe('{"verified":true,"path":"/me?x=1"}');
    const pinned = createSignedFetch({ credentials, scheme: 'hmac-sha256', pinnedSha256: CERT_SHA256 });
    await expect(pinned(`${httpUrl}/me`)).rejects.toThrow(/https/);
  });

  it('refuses pins that are not SHA-256 fingerprints', () => {
    expect(() => createSignedFetch({ credentials, scheme: 'hmac-sha256', pinnedSha256: 'abc' })).toThrow(TypeError);
    expect(() => createSignedFetch({ credentials, scheme: 'hmac-sha256', pinnedSha256: [] })).toThrow(TypeError);
  });
});
